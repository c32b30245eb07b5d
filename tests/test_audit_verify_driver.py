"""`intake audit verify`'s walk on the database driver's own connection (`audit_walk`), on
SQLite and PostgreSQL: what it reads, what it keeps, and how it leaves every other trail (a
break, an older schema) to the archive's walk, which reports it."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import make_url

from intake.archive import audit, audit_chain, audit_walk, migrate, schema_head
from intake.archive.audit_chain import ChainReport
from intake.archive.connect import sqlite_file
from intake.archive.models import AuditCheckpoint, AuditEvent, AuditHead
from intake.progress import NO_PROGRESS
from tests.support.app import on_both_databases
from tests.support.audit_rows import change_audit_row, seed_audit_rows

app_config = pytest.fixture(on_both_databases, name="app_config")


def test_the_schema_head_read_from_the_migration_files_is_alembics():
    alembic_head = ScriptDirectory.from_config(
        migrate.alembic_config("sqlite://")
    ).get_current_head()
    assert schema_head.head_revision() == alembic_head
    assert schema_head.head_revision() is not None


def test_the_walk_reads_the_columns_the_models_chain():
    assert tuple(column.name for column in audit.CHAINED) == audit_chain.CHAINED_COLUMNS
    assert audit_chain.WALK_QUERY.endswith(f" FROM {AuditEvent.__tablename__} ORDER BY seq")


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:////srv/clinic/archive.sqlite3",
        "sqlite:///instance/archive.sqlite3",
        "sqlite+pysqlite:////srv/archive.sqlite3",
        "sqlite:////srv/a%20b/archive.sqlite3",
        "sqlite:////srv/archive.sqlite3?timeout=5",
        "sqlite:///:memory:",
        "sqlite://",
        "sqlite:///",
        "postgresql+psycopg://clinic:s3cret@db.clinic.test:5432/archive",
    ],
)
def test_a_sqlite_file_is_the_one_sqlalchemy_reads_from_the_url(url: str):
    parsed = make_url(url)
    database = parsed.database if parsed.get_backend_name() == "sqlite" else None
    assert sqlite_file(url) == (Path(database) if database not in (None, "", ":memory:") else None)


class Counted:
    """Progress that keeps what a walk tells it, and runs `look` at each page."""

    def __init__(self, look=None) -> None:
        self.total: int | None = None
        self.pages: list[int] = []
        self.look = look

    def start(self, total: int) -> None:
        self.total = total

    def advance(self, n: int = 1) -> None:
        self.pages.append(n)
        if self.look is not None:
            self.look()


def kept(archive) -> tuple[tuple[int, str] | None, tuple[int, str]]:
    """The checkpoint (None before any check) and the head."""
    with archive.sessions() as session:
        checkpoint, head = session.get(AuditCheckpoint, 1), session.get(AuditHead, 1)
        return (checkpoint.seq, checkpoint.sha256) if checkpoint else None, (head.seq, head.sha256)


def test_a_trail_that_holds_is_walked_a_page_at_a_time_and_its_checkpoint_kept(
    archive, monkeypatch
):
    """On PostgreSQL the rows come from a server-side cursor, a page a FETCH (the walk's memory
    does not grow with the trail): another connection sees the walk's backend fetching."""
    newest = seed_audit_rows(archive, 23)
    monkeypatch.setattr(audit_chain, "WALK_PAGE", 10)
    postgresql = archive.engine.dialect.name == "postgresql"
    fetching: list[list[str]] = []

    def look() -> None:
        if postgresql:
            query = (
                "SELECT query FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
                "AND strpos(query, 'audit_chain_walk') > 0"
            )
            with archive.engine.connect() as other:
                fetching.append(other.exec_driver_sql(query).scalars().all())

    progress = Counted(look)
    report = audit_walk.verify_and_keep(archive.settings.database_url, progress)
    assert report == ChainReport(newest)
    assert progress.total == newest
    assert progress.pages == [10, 10, newest - 20]
    checkpoint, head = kept(archive)
    assert checkpoint == head and head[0] == newest
    if postgresql:
        assert len(fetching) == 3
        assert all(q == ['FETCH FORWARD 10 FROM "audit_chain_walk"'] for q in fetching), fetching


def test_a_trail_that_does_not_hold_is_left_to_the_archives_walk(archive, intake):
    seed_audit_rows(archive, 12)
    assert audit_walk.verify_and_keep(archive.settings.database_url, NO_PROGRESS) is not None
    before = kept(archive)
    change_audit_row(archive, 5)
    assert audit_walk.verify_and_keep(archive.settings.database_url, NO_PROGRESS) is None
    assert kept(archive) == before  # nothing kept from a walk that stopped
    result = intake("audit", "verify")
    assert result.exit_code == 1
    assert result.stdout == (
        "audit trail BROKEN at row 5: row 5 was changed: its SHA-256 no longer matches the one "
        "row 6 recorded\n"
    )
    # The archive's walk moved the checkpoint back to the row before the break.
    checkpoint, _ = kept(archive)
    assert checkpoint is not None and checkpoint[0] == 4


def test_an_older_schema_is_left_to_the_archive_which_names_the_command(archive, intake):
    with archive.transaction() as session:
        session.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    assert audit_walk.verify_and_keep(archive.settings.database_url, NO_PROGRESS) is None
    result = intake("audit", "verify")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: the archive database is at schema 0001, the app needs "
        f"{schema_head.head_revision()}: run `intake db upgrade`"
    ]


@pytest.mark.parametrize(("column", "value"), [(2, 5), (2, b"staff"), (3, b"10.0.0.1"), (6, 7)])
def test_a_page_with_a_string_that_is_not_text_is_refused_as_one_row_is(column: int, value):
    """A format would spell a number or bytes as text; `chained_sha256` refuses them, and so
    does the page's hashing."""
    row = [1, "2026-12-01 10:00:00.123456", "s1", "10.0.0.1", "agent", "login", "t", "0" * 64]
    row[column] = value
    with pytest.raises(TypeError):
        audit_chain.chained_sha256((row[0], audit_chain._as_time(row[1]), *row[2:]))
    with pytest.raises(TypeError):
        audit_chain.page_hashes([tuple(row)])
