"""Drafts on the server: private files, random ids, expiry, and the lock for a single submit."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

from intake.tablet.drafts import DraftStore


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_a_draft_round_trips(tmp_path: Path):
    store = DraftStore(tmp_path, ttl=60)
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
    store = DraftStore(tmp_path, ttl=60)
    first, second = store.create("f"), store.create("f")
    assert first.id != second.id and len(first.id) == 43
    mode = (tmp_path / f"{first.id}.json").stat().st_mode
    assert stat.S_IMODE(mode) == 0o600


def test_a_draft_expires_after_the_ttl_since_its_last_save(tmp_path: Path):
    clock = Clock()
    store = DraftStore(tmp_path, ttl=1800, clock=clock)
    draft = store.create("f")
    clock.now += 1700
    store.save(draft)
    clock.now += 1700
    assert store.get(draft.id) is not None
    clock.now += 1801
    assert store.get(draft.id) is None
    assert not (tmp_path / f"{draft.id}.json").exists()


def test_creating_a_draft_sweeps_expired_ones(tmp_path: Path):
    clock = Clock()
    store = DraftStore(tmp_path, ttl=10, clock=clock)
    old = store.create("f")
    clock.now += 11
    store.create("f")
    assert not (tmp_path / f"{old.id}.json").exists()


def test_unknown_or_malformed_ids_are_no_draft(tmp_path: Path):
    store = DraftStore(tmp_path, ttl=60)
    assert store.get(None) is None
    assert store.get("../../etc/passwd") is None
    assert store.get("x" * 43) is None
    store.delete("../secret_key")


def test_the_lock_serialises_work_on_one_draft(tmp_path: Path):
    store = DraftStore(tmp_path, ttl=60)
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
