"""Engines and sessions: SQLite (the default, one file under `instance/`) or PostgreSQL.

SQLite runs in WAL mode with `synchronous=FULL`, so a committed consent survives a power cut.
A transaction that may write (`sessions.begin()`, the archive's `transaction()`) starts with
`BEGIN IMMEDIATE`: writers queue for the lock up front instead of failing half-way when another
writer got there first. A plain session (`sessions()`) never commits, so it only reads: it starts
with a deferred `BEGIN`, and in WAL mode a reader never waits for a writer (were it to take the
write lock too, a page view would sleep in SQLite's busy handler behind every submit).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from intake.archive.connect import SQLITE_BUSY_SECONDS, SQLITE_PRAGMAS, archive_url, sqlite_url
from intake.safe_write import fsync_folder, make_folders

__all__ = ["SQLITE_BUSY_SECONDS", "archive_url", "make_engine", "session_factory", "sqlite_url"]


def make_engine(url: str) -> Engine:
    """An engine for `url`; a SQLite file (and its folder) is created on first use.

    Database errors never quote the statement's parameters (patient names, answers), so an
    error that reaches a log carries no patient data.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, hide_parameters=True)
    if parsed.database and parsed.database != ":memory:":
        _owner_only_file(Path(parsed.database))
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_SECONDS}, hide_parameters=True)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # noqa: ANN001
        # Let SQLAlchemy, not the sqlite3 module, say when a transaction begins.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:  # WAL, synchronous=FULL, foreign keys, secure_delete
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:  # noqa: ANN001
        reads = connection.get_execution_options().get(READS_ONLY, False)
        connection.exec_driver_sql("BEGIN" if reads else "BEGIN IMMEDIATE")

    return engine


def _owner_only_file(path: Path) -> None:
    """Make the SQLite file (and its folders) owner-only before SQLite first opens it: it holds
    patient data, and SQLite gives its journal files the database file's permissions."""
    make_folders(path.parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        return
    except OSError:
        return  # a read-only or full disk: SQLite's own error says so when it opens the file
    fsync_folder(path.parent)


#: The execution option of the engine that plain (reading) sessions are bound to.
READS_ONLY = "archive_reads_only"


class ArchiveSessions(sessionmaker[Session]):
    """`sessions()`: a session that reads (a deferred `BEGIN` on SQLite); `sessions.begin()`: a
    session that writes and commits at the end of the block (`BEGIN IMMEDIATE`)."""

    def __init__(self, engine: Engine) -> None:
        #: The engine for reading outside a session (`reader.connect()`): a deferred `BEGIN`.
        self.reader = engine.execution_options(**{READS_ONLY: True})
        super().__init__(self.reader, expire_on_commit=False)
        self.writer = engine

    @contextmanager
    def begin(self) -> Iterator[Session]:  # type: ignore[override]
        with self(bind=self.writer) as session, session.begin():
            yield session


def session_factory(engine: Engine) -> ArchiveSessions:
    return ArchiveSessions(engine)
