"""Bring an archive database to the newest schema (Alembic), and tell whether it is there.

Telling is done without importing Alembic (and Mako and Pygments with it: some 10 MB in every
app worker, and a part of every `intake` command's start): the newest revision is read from the
migration files' `revision` and `down_revision` lines (`schema_head`), the database's from the
table Alembic keeps it in. tests/test_migrations.py holds both equal to what Alembic itself says.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

from intake.archive import schema_head

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
#: Where Alembic keeps a database's revision (its default; env.py names no other).
VERSION_TABLE = "alembic_version"


class SchemaOutOfDate(RuntimeError):
    pass


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str) -> None:
    """Apply every migration the database has not had yet."""
    from alembic import command

    command.upgrade(alembic_config(url), "head")


def head_revision() -> str | None:
    """The newest revision of the migration files: read from them as text
    (`schema_head.head_revision`), or asked of Alembic where the files do not say it plainly."""
    head = schema_head.head_revision()
    if head is not None:
        return head
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None: never migrated)."""
    with engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return None
        rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
    if len(rows) > 1:
        raise RuntimeError(f"the database is at more than one head: {[r[0] for r in rows]}")
    return rows[0][0] if rows else None


def require_current(engine: Engine) -> None:
    """Raise `SchemaOutOfDate` with the command to run when the database is behind."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise SchemaOutOfDate(
            f"the archive database is at schema {current or 'none'}, the app needs {head}: "
            "run `intake db upgrade`"
        )
