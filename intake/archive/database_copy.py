"""The archive database as one file, and back: SQLite's online backup, PostgreSQL's pg_dump and
pg_restore. What a backup (`backup.py`) copies the database with."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from psycopg.conninfo import make_conninfo
from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.engine import make_url

from intake.archive.db import SQLITE_BUSY_SECONDS
from intake.archive.models import Base
from intake.safe_write import make_folders


class BackupError(Exception):
    """A backup that cannot be made, or restored; each message names one problem."""

    def __init__(self, *problems: str) -> None:
        super().__init__(*problems)
        self.problems = list(problems)

    def __str__(self) -> str:
        return "; ".join(self.problems)


def sqlite_path(database_url: str) -> Path:
    return Path(make_url(database_url).database or "")


def copy_sqlite(live: Path, target: Path) -> None:
    """Copy the SQLite database at `live` to the new file `target`, owner-only and on the disk."""
    _owner_only_new_file(target)
    source = sqlite3.connect(live, timeout=SQLITE_BUSY_SECONDS)
    try:
        copy = sqlite3.connect(target)
        try:
            # In one step: the copy is the database as it was at one moment, while the app
            # goes on writing (WAL lets readers and the writer work side by side).
            source.backup(copy)
            # One self-contained file, with no -wal beside it.
            copy.execute("PRAGMA journal_mode=DELETE")
        finally:
            copy.close()
    finally:
        source.close()
    _fsync(target)


def read_only_sqlite(path: Path) -> Engine:
    """An engine on a SQLite file that it never writes to, nor leaves a -wal or -shm beside."""
    uri = f"{path.resolve().as_uri()}?mode=ro&immutable=1"
    return create_engine("sqlite://", creator=lambda: sqlite3.connect(uri, uri=True))


def restore_sqlite(copy: Path, live: Path) -> None:
    """Copy the backup's database over the live one with SQLite's backup, in one transaction."""
    make_folders(live.parent)
    with suppress(FileExistsError):
        _owner_only_new_file(live)
    source = sqlite3.connect(f"{copy.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
    try:
        target = sqlite3.connect(live, timeout=SQLITE_BUSY_SECONDS)
        try:
            source.backup(target)
        finally:
            target.close()
    finally:
        source.close()


@contextmanager
def dump_postgresql(
    engine: Engine, database_url: str, target: Path, pg_bin: Path | None
) -> Iterator[Connection]:
    """Dump the database to `target` (`pg_dump -Fc`); the block's connection reads the very
    snapshot the dump holds, so what it lists (the PDFs to copy) is exactly the dump's rows."""
    pg_dump = pg_tool("pg_dump", pg_bin)
    with engine.connect() as connection:
        connection = connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            snapshot = connection.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
            _owner_only_new_file(target)
            run_pg_tool(
                database_url, pg_dump, "--format=custom", f"--snapshot={snapshot}", "--file",
                str(target),
            )  # fmt: skip
            yield connection
    _fsync(target)


def restore_postgresql(engine: Engine, database_url: str, dump: Path, pg_restore: str) -> None:
    """Replace the archive's tables with the dump's. When pg_restore fails, the database is left
    empty, and the `BackupError` says so."""
    # The archive's tables go first, those of newer migrations too: the dump may be of an
    # older schema, which a migration afterwards brings up to date.
    empty_database(engine)
    try:
        run_pg_tool(
            database_url, pg_restore, "--no-owner", "--no-privileges", "--single-transaction",
            "--exit-on-error", str(dump),
        )  # fmt: skip
    except BackupError as exc:
        raise BackupError(
            f"{exc}; the archive database is now empty: once the cause is fixed, restore again"
        ) from None


def empty_database(engine: Engine) -> None:
    """Drop every table of the archive (and Alembic's record of its schema): what a restore
    does before pg_restore, and after restoring a database it must not keep."""
    with engine.begin() as connection:
        Base.metadata.drop_all(connection)
        connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("DROP FUNCTION IF EXISTS audit_events_append_only()")


def pg_tool(name: str, pg_bin: Path | None) -> str:
    """The path of pg_dump or pg_restore: in `pg_bin` when given, else on PATH."""
    if pg_bin is not None:
        tool = pg_bin / name
        if not (tool.is_file() and os.access(tool, os.X_OK)):
            raise BackupError(f"--pg-bin: no {name} in {pg_bin}")
        return str(tool)
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} not found on PATH: install the PostgreSQL client programs, or give --pg-bin "
            "with the folder that holds them (such as /usr/lib/postgresql/15/bin)"
        )
    return found


def run_pg_tool(database_url: str, tool: str, *args: str) -> None:
    """Run pg_dump or pg_restore on the archive's database; the password goes in the
    environment, never on the command line, where any user of the machine could read it."""
    url = make_url(database_url)
    params = {"dbname": url.database, "host": url.host, "port": url.port, "user": url.username}
    params.update({key: value for key, value in url.query.items() if isinstance(value, str)})
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    conninfo = make_conninfo(**{key: str(value) for key, value in params.items() if value})
    result = subprocess.run(
        [tool, "--dbname", conninfo, *args], capture_output=True, text=True, env=env, check=False
    )
    if result.returncode != 0:
        raise BackupError(f"{Path(tool).name} failed: {last_lines(result)}")


def last_lines(result: subprocess.CompletedProcess[str]) -> str:
    """What a failed program said last (or its exit code): for one line of error."""
    lines = [line for line in (result.stderr or result.stdout).splitlines() if line.strip()]
    return " ".join(lines[-3:]) or f"exit code {result.returncode}"


def _owner_only_new_file(path: Path) -> None:
    """Create `path` empty and owner-only (0600 whatever the umask), for another program
    (SQLite, pg_dump) to write into: it keeps the mode of a file that is already there."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _fsync(path: Path) -> None:
    """Make a file written by another program reach the disk."""
    with path.open("rb") as file:
        os.fsync(file.fileno())
