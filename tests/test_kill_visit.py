"""kill -9 the server in the middle of a burst of visit check-ins (the course records' store
path), as `test_kill.py` does for consents.

BURST returning patients each have an archived consent and a visit staff opened for their own
enrolled tablet. Their check-ins are posted from SENDERS threads; once a share of them got an
answer the whole server gets SIGKILL. It is started again (its start-up repair finishes records
left pending), every tablet posts its check-in again (same cookies, same form), the server is
stopped and the operator's `intake archive repair --grace 0` runs. Then every visit is checked
in to exactly one record, archived, whose sealed PDF is the file recorded; no record is
pending; every stored PDF is named by a consent or a record; the audit trail holds, with each
record's "created" and "archived" and each visit's "checked in" once.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from intake.archive import audit
from intake.archive.audit import Actor
from intake.archive.course_models import VISIT_CHECKED_IN, Record, Visit
from intake.archive.models import PENDING, AuditEvent, Consent, PdfBlob
from intake.archive.service import Archive
from intake.archive.tablets import Tablets
from intake.archive.visits import Visits
from intake.submission import validate_submission
from tests.support.course import PAD
from tests.support.kill import kill_mid_burst, restart_until_repaired
from tests.support.migrated import migrate
from tests.support.serving import (
    GunicornServer,
    TabletClient,
    app_env,
    archive_of,
    enrolled_tokens,
    intake_command,
    show,
    submission_for,
    unique_token,
)
from tests.support.tablet import csrf_token

BURST = 24
SENDERS = 8
DESK = Actor(user_agent="kill test: the front desk")
CHECK_IN = {
    "q_health_or_medicines_changed": "no",
    "q_pregnant_breastfeeding": "no",
    "q_reaction_after_last": "yes",
    "t_reaction_after_last": "mild",
    "q_unwell_today": "no",
    "signature": json.dumps(PAD),
}


def stray_pdfs(archive: Archive) -> list[str]:
    """Stored PDFs (files, temporary files, or blob rows) that no consent or record names."""
    with archive.sessions() as session:
        named = set(session.scalars(select(Consent.pdf_sha256))) | set(
            session.scalars(select(Record.pdf_sha256))
        )
        if archive.settings.storage == "database":
            return [sha for sha in session.scalars(select(PdfBlob.sha256)) if sha not in named]
    root = archive.settings.files_dir
    return [
        str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and p.stem not in named
    ]


def pending_records(archive: Archive) -> int:
    with archive.sessions() as session:
        return session.scalar(select(func.count()).where(Record.status == PENDING)) or 0


def prepare(env: dict[str, str], server: GunicornServer) -> list[tuple[TabletClient, str]]:
    """BURST patients with a consent and a visit open on a tablet of their own, each tablet on
    its check-in page; (client, CSRF token) of each."""
    tokens = enrolled_tokens(env, BURST)
    archive = archive_of(env)
    try:
        tablets = Tablets(archive)
        for token in tokens:
            data = submission_for(unique_token())
            consent_id = archive.submit(validate_submission(data, archive.catalog), DESK)
            consent = archive.get(consent_id)
            Visits(archive).start(
                consent.patient_id,
                tablets.check(token).id,
                DESK,
                today=consent.signed_on + timedelta(days=7),
            )
    finally:
        archive.dispose()
    prepared = []
    for token in tokens:
        client = TabletClient([server.url], timeout=90, device=token)
        page = client.request("GET", "/tablet/visit")
        assert page.status == 200 and "Welcome back" in page.body, page.body[:300]
        prepared.append((client, csrf_token(page.body)))
    return prepared


def check_in(client: TabletClient, token: str) -> tuple[int, str]:
    answer = client.request("POST", "/tablet/visit", {"csrf_token": token, **CHECK_IN})
    return answer.status, answer.header("Location") or ""


def test_kill_during_a_burst_of_check_ins_on_sqlite_with_files(tmp_path: Path, servers, capsys):
    kill_during_check_ins(app_env(tmp_path), tmp_path, servers, capsys)


def test_kill_during_a_burst_of_check_ins_on_postgresql_with_the_database(
    tmp_path: Path, servers, postgres_server, capsys
):
    url = postgres_server.create_database()
    try:
        env = app_env(tmp_path, DATABASE_URL=url, STORAGE="database")
        kill_during_check_ins(env, tmp_path, servers, capsys)
    finally:
        for server in servers:
            server.stop()
        postgres_server.drop_database(url)


def kill_during_check_ins(env: dict[str, str], tmp_path: Path, servers, capsys) -> None:
    migrate(env["DATABASE_URL"])
    server = GunicornServer(env, tmp_path / "logs", name="killed", workers=2, threads=4)
    servers.append(server)
    server.start()
    tablets = prepare(env, server)

    answers = kill_mid_burst(
        server,
        range(len(tablets)),
        lambda _, number: check_in(*tablets[number]),
        senders=SENDERS,
        timeout=60,
    )
    assert all(answer == (302, "/tablet/visit/done") for answer in answers.values()), answers

    archive = archive_of(env)
    try:
        left_pending = pending_records(archive)
        restart_until_repaired(server, lambda: pending_records(archive))

        # Every patient taps "Confirm and check in" again: one that was checked in is sent
        # back to the start (nothing twice), one that was not is checked in now.
        with ThreadPoolExecutor(max_workers=SENDERS) as pool:
            again = list(pool.map(lambda t: check_in(*t), tablets, timeout=150))
        assert all(
            status == 302 and location in ("/tablet/visit/done", "/tablet/")
            for status, location in again
        ), again
        server.stop()
        repair = intake_command(env, "archive", "repair", "--grace", "0")
        assert repair.returncode == 0, repair.stdout + repair.stderr
        removed = int(re.search(r"(\d+) unnamed PDFs removed", repair.stdout).group(1))

        with archive.sessions() as session:
            visits = list(session.scalars(select(Visit)))
            records = {r.id: r for r in session.scalars(select(Record))}
            assert audit.verify(session).holds
            events = Counter(
                session.execute(
                    select(AuditEvent.event, AuditEvent.target).where(
                        AuditEvent.event.in_(
                            ("record created", "record archived", "visit checked in")
                        )
                    )
                ).all()
            )
        assert len(visits) == BURST and len(records) == BURST
        assert all(v.status == VISIT_CHECKED_IN and v.record_id in records for v in visits)
        assert len({v.record_id for v in visits}) == BURST
        for record in records.values():
            assert record.status == "archived"
            pdf = archive.records.pdf(record.id)
            assert hashlib.sha256(pdf).hexdigest() == record.pdf_sha256
            assert archive.check(pdf).holds
        assert set(events.values()) == {1} and len(events) == 3 * BURST
        assert stray_pdfs(archive) == []
    finally:
        archive.dispose()
    show(
        capsys,
        f"\n[kill] visit check-ins ({env['STORAGE']}, {env['DATABASE_URL'].split(':')[0]}): "
        f"{len(answers)} of {BURST} answered before "
        f"the kill; the kill left {left_pending} records pending; all {BURST} checked in once "
        f"after the restart and the resend; `intake archive repair --grace 0` removed "
        f"{removed} unnamed PDFs",
    )
