"""Engines and sessions: SQLite (the default, one file under `instance/`) or PostgreSQL.

SQLite runs in WAL mode with `synchronous=FULL`, so a committed consent survives a power cut, and
every transaction starts with `BEGIN IMMEDIATE`: writers queue for the lock up front instead of
failing half-way when another writer got there first.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

#: How long a SQLite writer waits for another writer's transaction, in seconds.
SQLITE_BUSY_SECONDS = 30


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{Path(path).resolve()}"


def archive_url(database_url: str, instance_path: Path) -> str:
    """The archive database: `DATABASE_URL` when set, else SQLite in the instance folder."""
    return database_url or sqlite_url(Path(instance_path) / "archive.sqlite3")


def make_engine(url: str) -> Engine:
    """An engine for `url`; a SQLite file (and its folder) is created on first use.

    Database errors never quote the statement's parameters (patient names, answers), so an
    error that reaches a log carries no patient data.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, hide_parameters=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_SECONDS}, hide_parameters=True)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # noqa: ANN001
        # Let SQLAlchemy, not the sqlite3 module, say when a transaction begins.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:  # noqa: ANN001
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
