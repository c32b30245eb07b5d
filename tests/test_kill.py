"""kill -9 the server in the middle of a burst of submits: nothing a patient was told is saved may
be lost, nothing may be there twice, and the repairs leave no stray row or file.

Each run, on loopback only and bounded by timeouts:

1. The archive database at the newest schema; gunicorn (2 gthread workers) in a process group of
   its own.
2. BURST tablets walk the form up to the review page (each with a unique patient name).
3. Their submits are fired from SENDERS threads; once a given share of them got an answer, the
   whole server (master and workers) gets SIGKILL at once.
4. The server is started again: its start-up repair finishes consents left pending. Unnamed PDFs
   younger than REPAIR_GRACE_SECONDS (600) are rightly left alone: with two workers starting,
   and every server of a shared database, another process may be about to commit the row that
   names one. (REPAIR_GRACE_SECONDS=0 on a running app would let one worker's repair delete the
   PDF another worker is just finishing.)
5. Every submit is sent again with its own cookie and submit token, as a patient tapping Submit
   again would: those that were answered must not make a second consent, those that were not
   must now make their one. With drafts in the database (`STORAGE=database`), a submit the kill
   cut off leaves its draft leased to the dead server for `DRAFT_LEASE_SECONDS` (15 s): sending
   it again would wait that long, so those are not sent again (their consent, if the kill came
   after it was committed, must still be there exactly once) and the lease left is printed.
6. The server is stopped and the operator's `intake archive repair` (no grace, app stopped)
   removes what the kill left unnamed. The audit trail's chain must hold, with each consent's
   "created" and "archived" events once.

Then: every tablet's consent is archived exactly once, with a sealed PDF whose SHA-256 is the
one recorded; no pending row; every stored PDF is named by a row and every row's PDF is there.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select

from intake.archive import audit
from intake.archive.models import PENDING, AuditEvent, Consent, DraftRow, PdfBlob
from intake.archive.service import Archive
from tests.support.migrated import migrate
from tests.support.serving import (
    GunicornServer,
    NoAnswer,
    TabletClient,
    app_env,
    archive_of,
    enrolled_tokens,
    intake_command,
    live_group_members,
    show,
    submission_for,
    unique_token,
)

BURST = 40
SENDERS = 8
#: Share of the burst answered when the server is killed.
MOMENTS = {"early": 0.2, "half": 0.5, "late": 0.8}
#: SQLite runs twice (a kill early and late in the burst); PostgreSQL once (half-way).
SQLITE_MOMENTS = ["early", "late"]


@dataclass
class Tablet:
    surname: str
    client: TabletClient
    sent: bool = False
    status: int | None = None
    location: str | None = None
    error: str | None = None

    @property
    def done(self) -> bool:
        return self.status == 302 and (self.location or "").endswith("/tablet/done")


def stray_pdfs(archive: Archive) -> list[str]:
    """Stored PDFs (files, temporary files, or blob rows) that no consent names."""
    with archive.sessions() as session:
        named = set(
            session.scalars(select(Consent.pdf_sha256).where(Consent.pdf_sha256.is_not(None)))
        )
        if archive.settings.storage == "database":
            return [sha for sha in session.scalars(select(PdfBlob.sha256)) if sha not in named]
    root = archive.settings.files_dir
    if not root.is_dir():
        return []
    return [
        str(path.relative_to(root))
        for path in root.rglob("*")
        if path.is_file() and path.stem not in named
    ]


def draft_leases(archive: Archive, tablets: list[Tablet]) -> dict[str, float]:
    """Each tablet's draft lease (`locked_until`, epoch seconds) when drafts are rows."""
    if archive.settings.storage != "database":
        return {}
    ids = {t.client.session_data().get("draft_id"): t.surname for t in tablets}
    with archive.sessions() as session:
        rows = session.execute(
            select(DraftRow.id, DraftRow.locked_until).where(DraftRow.locked_until.is_not(None))
        ).all()
    return {ids[draft_id]: until for draft_id, until in rows if draft_id in ids}


def pending_count(archive: Archive) -> int:
    with archive.sessions() as session:
        return session.scalar(select(func.count()).where(Consent.status == PENDING)) or 0


def burst(tablets: list[Tablet], server: GunicornServer, kill_at: int) -> float:
    """Fire every submit from SENDERS threads; SIGKILL the server once `kill_at` were answered.
    Returns the moment of the kill (perf_counter)."""
    answered = threading.Semaphore(0)
    killed = threading.Event()
    queue = iter(tablets)
    queue_lock = threading.Lock()

    def sender() -> None:
        while not killed.is_set():
            with queue_lock:
                tablet = next(queue, None)
            if tablet is None:
                return
            tablet.sent = True
            try:
                answer, _ = tablet.client.submit()
            except NoAnswer as exc:
                tablet.error = str(exc)
                continue
            tablet.status = answer.status
            tablet.location = answer.header("Location")
            answered.release()

    threads = [threading.Thread(target=sender, daemon=True) for _ in range(SENDERS)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    for _ in range(kill_at):
        if not answered.acquire(timeout=max(0.0, deadline - time.monotonic())):
            break
    killed.set()
    server.kill()
    moment = time.perf_counter()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a sender is stuck"
    return moment


class Phases:
    """Seconds spent in each phase of a run, for the printed figures."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def done(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = now - self._last
        self._last = now

    def __str__(self) -> str:
        return ", ".join(f"{name} {s:.1f}" for name, s in self.seconds.items())


def kill_in_the_middle(env: dict[str, str], tmp_path: Path, moment: str, servers, capsys) -> None:
    label = f"{moment} ({env['STORAGE']}, {env['DATABASE_URL'].split(':')[0]})"
    phases = Phases()
    migrate(env["DATABASE_URL"])
    server = GunicornServer(env, tmp_path / "logs", name="killed", workers=2, threads=4)
    servers.append(server)
    server.start()
    phases.done("start")

    tablets = [
        Tablet(surname, TabletClient([server.url], timeout=90, device=device))
        for surname, device in zip(
            (unique_token() for _ in range(BURST)), enrolled_tokens(env, BURST), strict=True
        )
    ]
    with ThreadPoolExecutor(max_workers=SENDERS) as pool:
        list(pool.map(lambda t: t.client.prepare(submission_for(t.surname)), tablets, timeout=120))
    phases.done("prepare")

    kill_at = max(1, round(BURST * MOMENTS[moment]))
    assert server.process is not None
    pgid = server.process.pid
    burst(tablets, server, kill_at)
    killed_at = time.time()
    deadline = time.monotonic() + 10
    while live_group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not live_group_members(pgid), "a gunicorn process survived SIGKILL"
    phases.done("burst")

    sent = sum(t.sent for t in tablets)
    answered = [t for t in tablets if t.status is not None]
    assert all(t.status < 500 for t in answered), [t.status for t in answered]
    assert all(t.done for t in answered), [(t.status, t.location) for t in answered]

    archive = archive_of(env)
    try:
        left_pending = pending_count(archive)
        left_stray = stray_pdfs(archive)

        # Restart: the start-up repair finishes what the kill left pending.
        server.start()
        deadline = time.monotonic() + 60
        while pending_count(archive) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert pending_count(archive) == 0, "the start-up repair left consents pending"
        if left_pending:  # the app's own log lines reach gunicorn's log
            assert re.search(r"INFO.*archive repair: \d+ finished", server.log_text()), (
                server.log_tail()
            )
        phases.done("restart")
        after_restart = archive.counts().get("archived", 0)
        stray_after_restart = stray_pdfs(archive)

        # Every patient taps Submit again (same cookie, same submit token), all at once; but
        # not those whose draft the killed server still holds a lease on (database drafts):
        # that submit waits for the lease to run out (DRAFT_LEASE_SECONDS after the kill).
        leases = draft_leases(archive, tablets)
        leased = [t for t in tablets if leases.get(t.surname, 0) > time.time()]
        again = [t for t in tablets if t not in leased]
        resend_started = time.perf_counter()
        resent: dict[str, tuple[int, str | None]] = {}

        def tap_again(tablet: Tablet) -> None:
            answer, _ = tablet.client.submit()
            resent[tablet.surname] = (answer.status, answer.header("Location"))

        with ThreadPoolExecutor(max_workers=BURST) as pool:
            list(pool.map(tap_again, again, timeout=150))
        resend_seconds = time.perf_counter() - resend_started
        assert all(
            status == 302 and (location or "").endswith("/tablet/done")
            for status, location in resent.values()
        ), resent
        assert len(resent) == len(again)
        server.stop()
        phases.done("resend+stop")

        # The operator's repair, with the app stopped: no grace.
        repair = intake_command(env, "archive", "repair", "--grace", "0")
        assert repair.returncode == 0, repair.stdout + repair.stderr
        removed = int(re.search(r"(\d+) unnamed PDFs removed", repair.stdout).group(1))
        phases.done("repair")

        # Each tablet's consent exactly once (a leased one not sent again: at most once),
        # archived, sealed, and the very file recorded.
        with archive.sessions() as session:
            rows = session.execute(select(Consent.id, Consent.legal_name, Consent.pdf_sha256)).all()
        assert archive.counts() == {"archived": len(rows)}
        names = Counter(name for _, name, _ in rows)
        assert all(names[f"Zoë {t.surname}"] == 1 for t in again), names
        assert all(names[f"Zoë {t.surname}"] <= 1 for t in leased), names
        assert sum(names.values()) == len(names)
        assert set(names) <= {f"Zoë {t.surname}" for t in tablets}
        for consent_id, _, sha256 in rows:
            pdf = archive.pdf(consent_id)
            assert hashlib.sha256(pdf).hexdigest() == sha256
            report = archive.check(pdf)
            assert report.holds, (consent_id, report.problems)
        assert stray_pdfs(archive) == []
        # The audit trail holds, and tells each consent's creation and archiving once.
        with archive.sessions() as session:
            assert audit.verify(session).holds
            events = Counter(
                session.execute(
                    select(AuditEvent.event, AuditEvent.target).where(
                        AuditEvent.event.in_(("consent created", "consent archived"))
                    )
                ).all()
            )
        assert set(events.values()) == {1}
        assert len(events) == 2 * len(rows)
        phases.done("checks")
        # The repair names every unnamed PDF it removed (temporary files go unnamed).
        unnamed = [p for p in stray_after_restart if not p.endswith(".tmp")]
        assert removed == len(unnamed), (repair.stdout, stray_after_restart)
    finally:
        archive.dispose()

    show(
        capsys,
        f"\n[kill] {label}: {sent} of {BURST} submits sent, {len(answered)} answered before the "
        f"kill, {sent - len(answered)} cut off; the kill left {left_pending} pending and "
        f"{len(left_stray)} unnamed PDFs; after the restart {after_restart} archived; "
        f"{len(again)} sent again (answered in {resend_seconds:.1f} s, no duplicate)"
        + (
            f", {len(leased)} not (draft leased by the dead server until "
            f"{max(leases[t.surname] for t in leased) - killed_at:.0f} s after the kill)"
            if leased
            else ""
        )
        + f"; {len(rows)} archived in the end; "
        f"`intake archive repair --grace 0` removed {removed} unnamed PDFs"
        f"\n[kill]   seconds: {phases}",
    )


@pytest.mark.parametrize("moment", SQLITE_MOMENTS)
def test_kill_on_sqlite_with_files(tmp_path: Path, moment: str, servers, capsys):
    kill_in_the_middle(app_env(tmp_path), tmp_path, moment, servers, capsys)


def test_kill_on_postgresql_with_the_database(tmp_path: Path, servers, postgres_server, capsys):
    url = postgres_server.create_database()
    try:
        env = app_env(tmp_path, DATABASE_URL=url, STORAGE="database")
        kill_in_the_middle(env, tmp_path, "half", servers, capsys)
    finally:
        for server in servers:
            server.stop()
        postgres_server.drop_database(url)
