"""A new archive database at the newest schema: a copy of one this process migrated once.

Alembic runs every migration for each new archive (fourteen, some rebuilding tables on SQLite):
about a sixth of the suite's CPU when every test's archive was migrated. Most tests only need
the schema, so `migrate` gives a database that is new and empty a copy of one migrated for real
the first time it is asked, per process:

- SQLite: the template file copied with SQLite's online backup API into the new file, which the
  archive's own `make_engine` creates first (owner-only, in WAL mode, as the app would);
- PostgreSQL: the new database made again with ``CREATE DATABASE ... TEMPLATE`` of a database
  migrated once on the same server (`copy_database`, which the crash tests' own templates use).

Anything else (a database with tables in it, one another connection holds open, an in-memory
SQLite) goes through Alembic as before. The tests of the migrations themselves call
`intake.archive.migrate.upgrade`, and `tests/test_migrations.py` holds a copy made here to the
schema, the revision and the settings of a database migrated for real.
"""

from __future__ import annotations

import atexit
import shutil
import sqlite3
import tempfile
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy import make_url

from intake.archive.db import make_engine
from intake.archive.migrate import upgrade

#: The PostgreSQL database each server's copies are made from.
TEMPLATE = "intake_migrated_template"

_sqlite_template: Path | None = None
#: (host, port) of each PostgreSQL server whose template this process has migrated.
_pg_templates: set[tuple[str, int]] = set()


def migrate(url: str) -> None:
    """Bring the database behind `url` to the newest schema (see the module's docstring)."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite" and parsed.database and parsed.database != ":memory:":
        if _copied_sqlite(Path(parsed.database)):
            return
    elif backend == "postgresql" and _copied_postgresql(parsed):
        return
    upgrade(url)


def _sqlite_template_file() -> Path:
    global _sqlite_template
    if _sqlite_template is None:
        folder = Path(tempfile.mkdtemp(prefix="intake-migrated-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        path = folder / "template.sqlite3"
        upgrade(f"sqlite:///{path}")
        _sqlite_template = path
    return _sqlite_template


def _copied_sqlite(path: Path) -> bool:
    """Copy the template into `path` if it is a new file (absent or empty); False otherwise."""
    if path.exists() and path.stat().st_size > 0:
        return False
    template = _sqlite_template_file()
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            target = connection.connection.dbapi_connection
            source = sqlite3.connect(template)
            try:
                source.backup(target)
            finally:
                source.close()
    finally:
        engine.dispose()
    return True


def copy_database(admin: psycopg.Connection, name: str, template: str) -> None:
    """Create database `name` as a copy of `template` on `admin`'s server (an autocommit
    connection). FILE_COPY (PostgreSQL 15+) copies a small database faster than logging each
    block, as the default strategy does."""
    strategy = " STRATEGY FILE_COPY" if admin.info.server_version >= 150000 else ""
    admin.execute(
        sql.SQL("CREATE DATABASE {} TEMPLATE {}" + strategy).format(
            sql.Identifier(name), sql.Identifier(template)
        )
    )


def _connect(parsed, dbname: str) -> psycopg.Connection:  # noqa: ANN001
    return psycopg.connect(
        host=parsed.host, port=parsed.port, user=parsed.username, dbname=dbname, autocommit=True
    )


def _copied_postgresql(parsed) -> bool:  # noqa: ANN001
    """Make the database again from the server's template if it has no table and no other
    connection; False otherwise."""
    name = parsed.database
    with _connect(parsed, "postgres") as admin:
        server = (parsed.host, parsed.port)
        if server not in _pg_templates:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(TEMPLATE)))
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEMPLATE)))
            upgrade(parsed.set(database=TEMPLATE).render_as_string(hide_password=False))
            _pg_templates.add(server)
        others = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (name,)
        ).fetchone()[0]
        if others:
            return False
        with _connect(parsed, name) as target:
            tables = target.execute(
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
            ).fetchone()[0]
        if tables:
            return False
        admin.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(name)))
        copy_database(admin, name, TEMPLATE)
    return True
