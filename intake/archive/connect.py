"""What opening the archive database takes, without SQLAlchemy: which database the settings
name, where a SQLite file is, and the settings every SQLite connection gets. `db` makes the
app's engines from these; `intake audit verify` opens the database with its driver alone."""

from __future__ import annotations

from pathlib import Path

#: How long a SQLite writer waits for another writer's transaction, in seconds.
SQLITE_BUSY_SECONDS = 30
#: Run on every new SQLite connection. WAL with `synchronous=FULL`: a committed consent
#: survives a power cut. `secure_delete`: deleted rows are overwritten with zeros, not left in
#: free pages, so what retention erases (a patient's name, a consent) is gone from the file.
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA secure_delete=ON",
)
#: What SQLAlchemy reads out of a URL's path (`%` escapes, a query, a fragment, credentials):
#: a SQLite URL with none of these names its file as written.
_NOT_PLAIN = frozenset("%?#@")


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{Path(path).resolve()}"


def archive_url(database_url: str, instance_path: Path) -> str:
    """The archive database: `DATABASE_URL` when set, else SQLite in the instance folder."""
    return database_url or sqlite_url(Path(instance_path) / "archive.sqlite3")


def backend_name(url: str) -> str:
    """`sqlite` or `postgresql` (SQLAlchemy's `get_backend_name`): the URL's scheme without
    its driver."""
    return url.partition(":")[0].partition("+")[0]


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names, as SQLAlchemy reads it (`make_url(url).database`); None
    for another database or an in-memory one."""
    if backend_name(url) != "sqlite":
        return None
    _, _, path = url.partition(":///")
    if url.startswith(("sqlite:///", "sqlite+pysqlite:///")) and not _NOT_PLAIN & set(path):
        database: str | None = path
    else:
        from sqlalchemy.engine import make_url

        database = make_url(url).database
    return None if database in (None, "", ":memory:") else Path(database)
