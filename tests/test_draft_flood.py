"""Filling the disk: new sessions posting 480 KB of refused answers to the details step, from 4
threads, through the real app under gunicorn. From outside, no device that is not an enrolled
tablet gets a draft at all (`test_tablet_devices.py`); so the flood comes from an enrolled tablet
gone wrong. What the drafts take stays bounded, in files and in the database (SQLite and
PostgreSQL)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from intake.archive.models import DraftRow
from tests.support.serving import (
    HOST,
    GunicornServer,
    NoAnswer,
    TabletClient,
    app_env,
    archive_of,
    enrolled_tokens,
    intake_command,
    show,
)
from tests.support.tablet import csrf_token

#: The flood runs until this many refused posts reached the step (many times the tablet's
#: draft limit), however slow the machine; SECONDS only bounds a flood that never gets there.
GOAL = 5 * 20
SECONDS = 120
THREADS = 4
POSTED = 480 * 1024
PER_TABLET = 20
#: What one draft of refused details may keep: every field cut to its limit (under 2 KB), with
#: the draft's own tokens.
DRAFT_BOUND = 4 * 1024


def flood(url: str, device: str, stop: float, counts: dict[str, int], lock: threading.Lock) -> None:
    """New sessions until `stop`, each posting 480 KB to the details step as multipart; once
    new ones are refused, the sessions already open post again and again."""
    held: list[TabletClient] = []
    while time.monotonic() < stop and counts.get("details 422", 0) < GOAL:
        tablet = TabletClient([url], device=device)
        try:
            welcome = tablet.request("GET", "/tablet/form/b12-methylcobalamin")
            start = tablet.request(
                "POST", "/tablet/form/b12-methylcobalamin", {"csrf_token": csrf_token(welcome.body)}
            )
            if start.status == 302:
                held.append(tablet)
            else:
                count(counts, lock, f"start {start.status}")
                if not held:
                    continue
                tablet = held[sum(counts.values()) % len(held)]
            page = tablet.request("GET", "/tablet/details")
            fields = {"csrf_token": csrf_token(page.body), "legal_name": "x" * POSTED}
            answer = tablet.request("POST", "/tablet/details", fields, multipart=True)
        except NoAnswer:
            count(counts, lock, "no answer")
            continue
        count(counts, lock, f"details {answer.status}")


def count(counts: dict[str, int], lock: threading.Lock, key: str) -> None:
    with lock:
        counts[key] = counts.get(key, 0) + 1


@pytest.mark.parametrize("storage", ["files", "sqlite-database", "postgresql-database"])
def test_refused_answers_from_outside_fill_no_disk(
    tmp_path: Path, servers: list[GunicornServer], request, capsys, storage: str
):
    overrides: dict[str, str] = {"DRAFTS_PER_TABLET": str(PER_TABLET)}
    if storage != "files":
        overrides["STORAGE"] = "database"
    if storage == "postgresql-database":
        server = request.getfixturevalue("postgres_server")
        overrides["DATABASE_URL"] = server.create_database()
        request.addfinalizer(lambda: server.drop_database(overrides["DATABASE_URL"]))
    env = app_env(tmp_path, **overrides)
    assert intake_command(env, "db", "upgrade").returncode == 0
    (device,) = enrolled_tokens(env, 1)
    gunicorn = GunicornServer(env, tmp_path / "logs", workers=2, threads=4)
    servers.append(gunicorn.start())
    assert gunicorn.url.startswith(f"http://{HOST}:")

    counts: dict[str, int] = {}
    lock = threading.Lock()
    began = time.monotonic()
    stop = began + SECONDS
    threads = [
        threading.Thread(target=flood, args=(gunicorn.url, device, stop, counts, lock))
        for _ in range(THREADS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=SECONDS + 60)
    assert not any(thread.is_alive() for thread in threads)
    took = time.monotonic() - began

    if storage == "files":
        files = list((Path(env["INSTANCE_PATH"]) / "drafts").glob("*.json"))
        drafts, used = len(files), sum(f.stat().st_size for f in files)
    else:
        archive = archive_of(env)
        with archive.sessions() as session:
            drafts = session.scalar(select(func.count()).select_from(DraftRow))
            used = session.scalar(select(func.coalesce(func.sum(func.length(DraftRow.body)), 0)))
        archive.dispose()
    posted = counts.get("details 422", 0)
    show(
        capsys,
        f"\n{storage}: {posted} posts of {POSTED // 1024} KB refused in {took:.1f} s from "
        f"{THREADS} threads ({posted * POSTED / took / 1e6:.0f} MB/s posted); "
        f"{counts.get('start 429', 0)} starts refused; {drafts} drafts kept, {used:,} bytes",
    )
    assert posted >= GOAL >= 5 * PER_TABLET, counts  # the flood reached the step, many times over
    assert set(counts) <= {"details 422", "start 429"}, counts
    assert drafts <= PER_TABLET
    assert used <= PER_TABLET * DRAFT_BOUND
