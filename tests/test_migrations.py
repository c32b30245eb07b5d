"""Alembic migrations build exactly the tables the models describe, on both databases."""

from __future__ import annotations

import subprocess
import sys

import pytest
import sqlalchemy.exc
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, make_url, text

from intake.archive.db import make_engine
from intake.archive.migrate import (
    SchemaOutOfDate,
    alembic_config,
    current_revision,
    head_revision,
    require_current,
    upgrade,
)
from intake.archive.models import Base
from tests.support.databases import new_database
from tests.support.migrated import migrate


def test_upgrade_builds_the_models_schema(database_url: str):
    engine = make_engine(database_url)
    try:
        with pytest.raises(SchemaOutOfDate, match="run `intake db upgrade`"):
            require_current(engine)
        upgrade(database_url)
        upgrade(database_url)  # a second run has nothing to do
        assert current_revision(engine) == head_revision()
        require_current(engine)
        with engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    finally:
        engine.dispose()


def test_downgrade_removes_every_table(database_url: str):
    upgrade(database_url)
    command.downgrade(alembic_config(database_url), "base")
    engine = make_engine(database_url)
    try:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()


def alembic_current(engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def test_the_schema_check_reads_what_alembic_says(database_url: str):
    """`head_revision` and `current_revision` (read without importing Alembic) agree with
    Alembic's own answers: never migrated, one step behind, and at the head."""
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head_revision() == head
    engine = make_engine(database_url)
    try:
        assert current_revision(engine) is None
        assert alembic_current(engine) is None
        upgrade(database_url)
        command.downgrade(alembic_config(database_url), "-1")
        behind = alembic_current(engine)
        assert behind not in (None, head)
        assert current_revision(engine) == behind
        with pytest.raises(SchemaOutOfDate, match=f"at schema {behind}, the app needs {head}"):
            require_current(engine)
        upgrade(database_url)
        assert current_revision(engine) == alembic_current(engine) == head
    finally:
        engine.dispose()


def test_the_app_and_a_command_start_without_alembic(tmp_path):
    """The schema check imports no Alembic (nor Mako, nor Pygments): 10 MB in every worker."""
    script = (
        "import sys\n"
        "from intake.archive.db import make_engine\n"
        "from intake.archive.migrate import require_current, SchemaOutOfDate\n"
        f"engine = make_engine('sqlite:///{tmp_path}/archive.sqlite3')\n"
        "try:\n"
        "    require_current(engine)\n"
        "except SchemaOutOfDate:\n"
        "    pass\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'alembic', 'mako', 'pygments'}))\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert ran.stdout.strip() == "[]"


def test_sqlite_runs_in_wal_mode_with_full_sync(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/a/archive.sqlite3")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()


def test_database_errors_never_quote_the_values(database_url: str):
    """An error that reaches a log must not carry a patient's name from the statement."""
    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        with pytest.raises(sqlalchemy.exc.DBAPIError) as raised:
            with engine.begin() as connection:
                connection.execute(
                    text("INSERT INTO consents_missing (legal_name) VALUES (:name)"),
                    {"name": "Unique Patientname"},
                )
        assert "Unique Patientname" not in str(raised.value)
        assert "parameters hidden" in str(raised.value)
    finally:
        engine.dispose()


def _schema(engine) -> dict[str, object]:
    """What a database's schema is: every table's columns, keys and indexes, and its revision."""
    found: dict[str, object] = {"revision": current_revision(engine)}
    inspector = inspect(engine)
    for table in sorted(inspector.get_table_names()):
        found[table] = (
            [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)],
            inspector.get_pk_constraint(table)["constrained_columns"],
            sorted(
                (fk["name"] or "", tuple(fk["constrained_columns"]), fk["referred_table"])
                for fk in inspector.get_foreign_keys(table)
            ),
            sorted(
                (ix["name"], tuple(ix["column_names"]), bool(ix["unique"]))
                for ix in inspector.get_indexes(table)
            ),
            sorted(
                (uq["name"] or "", tuple(uq["column_names"]))
                for uq in inspector.get_unique_constraints(table)
            ),
        )
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            found["sql"] = sorted(
                connection.exec_driver_sql("SELECT type, name, sql FROM sqlite_master").all()
            )
            found["journal_mode"] = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
    return found


def test_the_tests_copy_of_a_migrated_database_is_one_migrated_for_real(
    database_url: str, request: pytest.FixtureRequest, tmp_path
):
    """`tests.support.migrated` gives new test archives a copy of one migrated once: the copy
    has the same tables, columns, keys, indexes and revision (on SQLite the same statements and
    WAL mode, and its file owner-only), and the app's own checks take it as current."""
    kind = make_url(database_url).get_backend_name()
    copy_url = new_database(request, kind, tmp_path / "copy")
    migrate(copy_url)
    upgrade(database_url)
    real, copy = make_engine(database_url), make_engine(copy_url)
    try:
        require_current(copy)
        assert _schema(copy) == _schema(real)
        with copy.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    finally:
        real.dispose()
        copy.dispose()
    if kind == "sqlite":
        assert (tmp_path / "copy" / "archive.sqlite3").stat().st_mode & 0o777 == 0o600
