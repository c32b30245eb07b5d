"""The database fixtures give each test a real, empty database on SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url


def test_a_real_database_that_keeps_a_row(database_url: str) -> None:
    engine = sa.create_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL)"))
            conn.execute(sa.text("INSERT INTO t (id, name) VALUES (1, 'Ada')"))
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT id, name FROM t")).all() == [(1, "Ada")]
            if engine.dialect.name == "postgresql":
                version = conn.execute(sa.text("SELECT version()")).scalar_one()
                assert version.startswith("PostgreSQL"), version
    finally:
        engine.dispose()
    if engine.dialect.name == "sqlite":
        database = make_url(database_url).database
        assert database and Path(database).is_file()
    else:
        assert engine.dialect.name == "postgresql"


def test_each_database_starts_empty(database_url: str) -> None:
    engine = sa.create_engine(database_url)
    try:
        assert sa.inspect(engine).get_table_names() == []
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE t (id INTEGER)"))
        assert sa.inspect(engine).get_table_names() == ["t"]
    finally:
        engine.dispose()


def test_a_second_postgres_database_is_separate_and_empty(postgres_server) -> None:
    first_url = postgres_server.create_database()
    second_url = postgres_server.create_database()
    first, second = sa.create_engine(first_url), sa.create_engine(second_url)
    try:
        assert first_url != second_url
        with first.begin() as conn:
            conn.execute(sa.text("CREATE TABLE t (id INTEGER)"))
        assert sa.inspect(first).has_table("t")
        assert not sa.inspect(second).has_table("t")
        assert sa.inspect(second).get_table_names() == []
    finally:
        first.dispose()
        second.dispose()
        postgres_server.drop_database(first_url)
        postgres_server.drop_database(second_url)


def test_dropped_after_the_test(postgres_server) -> None:
    url = postgres_server.create_database()
    engine = sa.create_engine(url)
    engine.connect().close()  # a pooled connection left open: DROP ... WITH (FORCE) handles it
    postgres_server.drop_database(url)
    engine.dispose()
    admin = sa.create_engine(postgres_server.url("postgres"))
    try:
        with admin.connect() as conn:
            name = make_url(url).database
            exists = conn.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).first()
        assert exists is None
    finally:
        admin.dispose()
