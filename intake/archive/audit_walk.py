"""`intake audit verify`'s walk of the whole trail on the database driver's own connection
(sqlite3 or psycopg), without SQLAlchemy, its ORM or Alembic: what the command starts with is
then about what reading the table takes.

It does what `audit.verify_and_keep` does when the trail holds, in one transaction: the
schema checked to be the newest (`alembic_version` against the migration files' head), the
chain walked a page at a time (`audit_chain.chain_holds`; on PostgreSQL through a server-side
cursor, so memory stays flat), and the checkpoint the staff page extends kept at the newest
row. Anything else (a URL it does not open plainly, a database it cannot open, an older
schema, a chain that does not hold) returns None, having changed nothing: the command then
takes `audit.verify_and_keep`'s way, which reports it as it always has.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from intake.archive import audit_chain
from intake.archive.audit_chain import ChainReport
from intake.archive.connect import SQLITE_BUSY_SECONDS, SQLITE_PRAGMAS, backend_name, sqlite_file
from intake.archive.schema_head import head_revision
from intake.progress import Progress

#: The psycopg URL scheme SQLAlchemy is given; libpq reads the rest of the URL as it is.
PSYCOPG = "postgresql+psycopg://"


def verify_and_keep(url: str, progress: Progress) -> ChainReport | None:
    """The whole chain's report when it holds (the checkpoint kept at the newest row), else
    None with nothing changed. `progress` counts rows."""
    connection = _connect(url)
    if connection is None:
        return None
    sqlite = backend_name(url) == "sqlite"
    mark = "?" if sqlite else "%s"
    try:
        if sqlite:
            connection.execute("BEGIN IMMEDIATE")  # as the app's engine begins (`db`)
        reads = connection.cursor()
        reads.execute("SELECT version_num FROM alembic_version")
        if reads.fetchall() != [(head_revision(),)] or head_revision() is None:
            return None
        reads.execute("SELECT seq, sha256 FROM audit_head WHERE id = 1")
        head = reads.fetchone()
        progress.start(head[0] if head else 0)
        # On PostgreSQL a named (server-side) cursor: psycopg's ordinary one receives the whole
        # result when the query runs and holds it to the end of the walk.
        walk = connection.cursor(name="audit_chain_walk") if not sqlite else connection.cursor()
        try:
            held = audit_chain.chain_holds(
                walk, tuple(head) if head else None, progress, audit_chain.WALK_PAGE
            )
        finally:
            walk.close()
        if held is None:
            return None
        newest, sha256 = held
        reads.execute(
            f"UPDATE audit_checkpoint SET seq = {mark}, sha256 = {mark} WHERE id = 1",  # noqa: S608
            (newest, sha256),
        )
        if reads.rowcount == 0:
            reads.execute(
                f"INSERT INTO audit_checkpoint (id, seq, sha256) VALUES (1, {mark}, {mark})",  # noqa: S608
                (newest, sha256),
            )
        connection.commit()
        return ChainReport(newest)
    except _errors(sqlite):
        return None  # said again, in the app's words, by the way that reports it
    finally:
        with contextlib.suppress(Exception):
            connection.rollback()  # nothing to undo after a commit; else nothing is kept
        connection.close()


def _connect(url: str) -> Any:
    """A driver connection to the database `url` names, set up as the app's engine sets up
    its own; None for a URL this does not open itself or a database it cannot open."""
    if backend_name(url) == "sqlite":
        path = sqlite_file(url)
        if path is None or not Path(path).is_file():
            return None  # the app's engine makes a missing file, owner-only, and says so
        import sqlite3

        try:
            connection = sqlite3.connect(path, timeout=SQLITE_BUSY_SECONDS, isolation_level=None)
            for pragma in SQLITE_PRAGMAS:
                connection.execute(pragma)
        except sqlite3.Error:
            return None
        return connection
    if url.startswith(PSYCOPG):
        try:
            import psycopg
        except ImportError:
            return None
        try:
            return psycopg.connect("postgresql://" + url.removeprefix(PSYCOPG))
        except (psycopg.Error, ValueError):
            return None
    return None


def _errors(sqlite: bool) -> tuple[type[Exception], ...]:
    """The driver's own errors: a table that is not there, a lock not had, a row not readable."""
    if sqlite:
        import sqlite3

        return (sqlite3.Error,)
    import psycopg

    return (psycopg.Error,)
