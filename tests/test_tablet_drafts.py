"""Drafts on the server, as private files or database rows: random ids, expiry, and the lock
for a single submit."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from intake.archive.db import make_engine, session_factory
from intake.tablet.drafts import (
    DatabaseDrafts,
    Drafts,
    DraftTooLarge,
    FileDrafts,
    TooManyDrafts,
)
from tests.support.databases import new_database
from tests.support.migrated import migrate

MakeStore = Callable[..., Drafts]


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["files", "sqlite", "postgresql"])
def make_store(request, tmp_path: Path) -> Iterator[MakeStore]:
    """Makes a draft store of each kind: files under tmp_path, or rows of a real database
    (SQLite and PostgreSQL)."""
    if request.param == "files":
        yield lambda **kw: FileDrafts(tmp_path, **kw)
        return
    url = new_database(request, request.param, tmp_path)
    migrate(url)
    engine = make_engine(url)
    yield lambda **kw: DatabaseDrafts(session_factory(engine), **kw)
    engine.dispose()


def test_a_draft_round_trips(make_store: MakeStore):
    store = make_store(ttl=60)
    draft = store.create("b12-methylcobalamin")
    draft.answers["patient"] = {"legal_name": "Zoë"}
    draft.done_steps.append("details")
    store.save(draft)
    again = store.get(draft.id)
    assert again is not None
    assert again.answers == {"patient": {"legal_name": "Zoë"}}
    assert again.done_steps == ["details"]
    assert again.submit_token == draft.submit_token


def test_draft_files_are_private_and_named_randomly(tmp_path: Path):
    store = FileDrafts(tmp_path, ttl=60)
    first, second = store.create("f"), store.create("f")
    assert first.id != second.id and len(first.id) == 43
    mode = (tmp_path / f"{first.id}.json").stat().st_mode
    assert stat.S_IMODE(mode) == 0o600


def test_a_draft_expires_after_the_ttl_since_its_last_save(make_store: MakeStore):
    clock = Clock()
    store = make_store(ttl=1800, clock=clock)
    draft = store.create("f")
    clock.now += 1700
    store.save(draft)
    clock.now += 1700
    assert store.get(draft.id) is not None
    clock.now += 1801
    assert store.get(draft.id) is None
    clock.now -= 1801
    assert store.get(draft.id) is None, "an expired draft is deleted, not just hidden"


def test_creating_a_draft_sweeps_expired_ones(make_store: MakeStore):
    clock = Clock()
    store = make_store(ttl=10, clock=clock)
    old = store.create("f")
    clock.now += 11
    store.create("f")
    clock.now -= 11
    assert store.get(old.id) is None


def test_a_draft_file_carries_its_last_save_as_its_time(tmp_path: Path):
    """The sweep goes by each file's time and reads none of them (it ran on every new patient's
    start, and reading a thousand kept drafts took longer than sealing a consent)."""
    clock = Clock()
    store = FileDrafts(tmp_path, ttl=10, clock=clock)
    draft = store.create("f")
    path = tmp_path / f"{draft.id}.json"
    clock.now += 5
    store.save(draft)
    assert path.stat().st_mtime == draft.updated_at == clock.now
    unreadable = store.create("f")
    (tmp_path / f"{unreadable.id}.json").write_bytes(b"\xff not json")
    os.utime(tmp_path / f"{unreadable.id}.json", (clock.now, clock.now))
    store.sweep()
    assert path.exists() and (tmp_path / f"{unreadable.id}.json").exists()
    clock.now += 11
    store.sweep()
    assert list(tmp_path.glob("*.json")) == []


def test_unknown_or_malformed_ids_are_no_draft(make_store: MakeStore):
    store = make_store(ttl=60)
    assert store.get(None) is None
    assert store.get("../../etc/passwd") is None
    assert store.get("x" * 43) is None
    store.delete("../secret_key")


def test_the_lock_serialises_work_on_one_draft(make_store: MakeStore):
    store = make_store(ttl=60)
    draft = store.create("f")
    inside, overlaps = [], []

    def work() -> None:
        with store.locked(draft.id):
            if inside:
                overlaps.append(True)
            inside.append(True)
            threading.Event().wait(0.02)
            inside.pop()

    threads = [threading.Thread(target=work) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlaps == []


def test_a_lease_left_by_a_dead_server_runs_out(database_url: str):
    migrate(database_url)
    engine = make_engine(database_url)
    try:
        clock = Clock()
        store = DatabaseDrafts(session_factory(engine), ttl=600, clock=clock, lease=30)
        draft = store.create("f")
        dead = store.locked(draft.id)
        dead.__enter__()  # a server that took the lease and died: it never lets go
        clock.now += 31
        with store.locked(draft.id):
            store.save(draft)
        assert store.get(draft.id) is not None
    finally:
        engine.dispose()


def test_an_address_holds_at_most_its_live_drafts(make_store: MakeStore):
    clock = Clock()
    store = make_store(ttl=60, clock=clock, per_owner=3)
    made = [store.create("b12-methylcobalamin", "203.0.113.7") for _ in range(3)]
    with pytest.raises(TooManyDrafts):
        store.create("b12-methylcobalamin", "203.0.113.7")
    # Another address is counted apart; the address itself is in no id.
    other = store.create("b12-methylcobalamin", "198.51.100.2")
    assert all("203" not in d.id and len(d.id) == 43 for d in [*made, other])
    # A wiped draft, or one expired, frees its place.
    store.delete(made[0].id)
    store.create("b12-methylcobalamin", "203.0.113.7")
    clock.now += 61
    for _ in range(3):
        store.create("b12-methylcobalamin", "203.0.113.7")


def test_a_draft_over_its_size_is_not_saved(make_store: MakeStore):
    store = make_store(ttl=60, max_bytes=4096)
    draft = store.create("b12-methylcobalamin")
    draft.answers["health"] = {"allergies": "é" * 2000}  # 4,000 bytes of UTF-8
    with pytest.raises(DraftTooLarge):
        store.save(draft)
    assert store.get(draft.id).answers == {}


def test_a_sweep_removes_stale_lock_and_temporary_files(tmp_path: Path):
    clock = Clock()
    store = FileDrafts(tmp_path, ttl=60, clock=clock)
    live = store.create("b12-methylcobalamin")
    with store.locked(live.id):
        pass
    (tmp_path / ("x" * 43 + ".tmp")).write_text("{}")
    (tmp_path / ("y" * 43 + ".lock")).write_text("")
    for path in tmp_path.iterdir():
        os.utime(path, (clock.now - 120, clock.now - 120))
    store.save(live)  # its own files are young again
    os.utime(tmp_path / f"{live.id}.lock", (clock.now - 120, clock.now - 120))
    store.sweep()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"{live.id}.json", f"{live.id}.lock"]
    )
