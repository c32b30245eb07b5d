"""The archive's sessions on SQLite: a plain session reads without waiting for a writer; a
`begin()` session takes the write lock up front, so a second writer queues for it."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from intake.archive.db import make_engine, session_factory


@pytest.fixture
def sessions(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'archive.db'}")
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)"))
        connection.execute(sa.text("INSERT INTO t VALUES (1, 'first')"))
    yield session_factory(engine)
    engine.dispose()


def _holding_the_write_lock(sessions, held: threading.Event, release: threading.Event) -> None:
    with sessions.begin() as session:
        session.execute(sa.text("UPDATE t SET name = 'second' WHERE id = 1"))
        held.set()
        release.wait(10)


def test_a_reading_session_never_waits_for_a_writer(sessions) -> None:
    held, release = threading.Event(), threading.Event()
    writer = threading.Thread(target=_holding_the_write_lock, args=(sessions, held, release))
    writer.start()
    try:
        assert held.wait(10)
        started = time.monotonic()
        with sessions() as session:
            name = session.scalar(sa.text("SELECT name FROM t WHERE id = 1"))
        waited = time.monotonic() - started
        # The writer has not committed: the reader sees the row as it was, at once.
        assert name == "first"
        assert waited < 2, waited
    finally:
        release.set()
        writer.join()
    with sessions() as session:
        assert session.scalar(sa.text("SELECT name FROM t WHERE id = 1")) == "second"


def test_a_writing_session_queues_behind_another_writer(sessions) -> None:
    held, release = threading.Event(), threading.Event()
    writer = threading.Thread(target=_holding_the_write_lock, args=(sessions, held, release))
    writer.start()
    order: list[str] = []
    try:
        assert held.wait(10)

        def second() -> None:
            with sessions.begin() as session:
                # BEGIN IMMEDIATE: this waits here until the first writer commits.
                order.append(session.scalar(sa.text("SELECT name FROM t WHERE id = 1")))

        other = threading.Thread(target=second)
        other.start()
        time.sleep(0.3)
        assert order == []
        release.set()
        other.join(10)
        assert order == ["second"]
    finally:
        release.set()
        writer.join()
