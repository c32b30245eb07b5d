"""kill -9 the server in the middle of a burst of injection records (the clinician's signed
record, `Injections.record`, through the course records' store), as `test_kill_visit.py` does
for check-ins.

BURST patients each have an archived consent and a checked-in visit. SENDERS clinicians, each
logged in on a browser of their own, open a visit's injection page and sign the record with
their password, one visit after another; once a share of them got an answer the whole server
gets SIGKILL. It is started again (its start-up repair finishes records left pending), each
visit's injection page is opened again and, where the form is still offered, signed again; the
server is stopped and the operator's `intake archive repair --grace 0` runs. Then every
acknowledged injection has exactly one row, every visit exactly one injection (none twice),
each on an archived record whose sealed PDF is the file recorded and holds; no record is
pending; every stored PDF is named by a consent or a record; the audit trail holds, with each
record's "created" and "archived" and each injection's "recorded" once.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from intake.archive import audit
from intake.archive.accounts import Accounts
from intake.archive.audit import Actor
from intake.archive.course_models import VISIT_GIVEN, Injection, Record, Visit
from intake.archive.lots import Lots, NewLot
from intake.archive.models import AuditEvent
from intake.submission import validate_submission
from tests.support.course_rows import add_visit
from tests.support.kill import kill_mid_burst, restart_until_repaired
from tests.support.migrated import migrate
from tests.support.serving import (
    GunicornServer,
    TabletClient,
    app_env,
    archive_of,
    intake_command,
    show,
    submission_for,
    unique_token,
)
from tests.support.tablet import csrf_token
from tests.test_kill_visit import pending_records, stray_pdfs

BURST = 24
SENDERS = 6
DESK = Actor(user_agent="kill test: the front desk")
PASSWORD = "kill test clinician password 7"


def prepare(env: dict[str, str]) -> tuple[list[str], str, list[str]]:
    """BURST patients with a current consent and a checked-in visit, a lot in stock and
    SENDERS clinicians: (visit ids, the lot's id, the clinicians' e-mail addresses)."""
    archive = archive_of(env)
    try:
        today = archive.clock().date()
        lot = Lots(archive).add(
            NewLot("Methylcobalamin", "1 mg/ml", "Hillside Pharmacy", "K-9",
                   today + timedelta(days=200)),
            DESK, today=today,
        )  # fmt: skip
        visits = []
        for _ in range(BURST):
            data = submission_for(unique_token())
            data["screening"] = {key: False for key in data["screening"]}
            consent_id = archive.submit(validate_submission(data, archive.catalog), DESK)
            consent = archive.get(consent_id)
            started = datetime.now(UTC) - timedelta(minutes=30)
            visits.append(add_visit(archive, consent.patient_id, consent_id, started_at=started))
        emails = []
        accounts = Accounts(archive)
        for number in range(SENDERS):
            email = f"clinician{number}@kill.example"
            accounts.create(
                email=email, name=f"Clinician {number}", role="clinician",
                password=PASSWORD, actor=DESK,
            )  # fmt: skip
            emails.append(email)
        return visits, lot.id, emails
    finally:
        archive.dispose()


def logged_in(url: str, email: str) -> TabletClient:
    client = TabletClient([url], timeout=90)
    page = client.request("GET", "/staff/login")
    fields = {"csrf_token": csrf_token(page.body), "email": email, "password": PASSWORD}
    answer = client.request("POST", "/staff/login", fields)
    assert answer.status == 302 and answer.header("Location") == "/staff/", answer.body[:300]
    return client


def record(client: TabletClient, visit_id: str, lot_id: str) -> tuple[int, str]:
    """Open the visit's injection page and sign the record there when the form is offered:
    (status, where it sent) of the submit, or (the page's status, "given") when the page shows
    the injection already recorded."""
    path = f"/staff/visits/{visit_id}/injection"
    page = client.request("GET", path)
    if page.status != 200:
        return page.status, f"the page answered {page.header('Location') or page.body[:200]}"
    if 'name="password"' not in page.body:
        return page.status, "given"
    given_at = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M")
    fields = {
        "csrf_token": csrf_token(page.body), "lot_id": lot_id, "dose_mg": "1",
        "volume_ml": "1", "site": "deltoid-left", "given_at": given_at,
        "notes": "Tolerated well", "reaction": "none", "reaction_action": "",
        "override_reason": "", "password": PASSWORD, "code": "",
    }  # fmt: skip
    answer = client.request("POST", path, fields)
    if answer.status != 302:
        # What the page says went wrong (its error messages), for the assertion's message.
        return answer.status, " | ".join(re.findall(r'class="error"[^>]*>([^<]+)<', answer.body))
    return answer.status, answer.header("Location") or ""


def test_kill_during_a_burst_of_injections_on_sqlite_with_files(tmp_path: Path, servers, capsys):
    kill_during_injections(app_env(tmp_path, CLINIC_TIMEZONE="UTC"), tmp_path, servers, capsys)


def test_kill_during_a_burst_of_injections_on_postgresql_with_the_database(
    tmp_path: Path, servers, postgres_server, capsys
):
    url = postgres_server.create_database()
    try:
        env = app_env(tmp_path, DATABASE_URL=url, STORAGE="database", CLINIC_TIMEZONE="UTC")
        kill_during_injections(env, tmp_path, servers, capsys)
    finally:
        for server in servers:
            server.stop()
        postgres_server.drop_database(url)


def kill_during_injections(env: dict[str, str], tmp_path: Path, servers, capsys) -> None:
    migrate(env["DATABASE_URL"])
    visits, lot_id, emails = prepare(env)
    server = GunicornServer(env, tmp_path / "logs", name="killed", workers=2, threads=4)
    servers.append(server)
    server.start()
    clients = [logged_in(server.url, email) for email in emails]

    answers = kill_mid_burst(
        server,
        visits,
        lambda number, visit_id: record(clients[number], visit_id, lot_id),
        senders=len(clients),
        timeout=90,
    )
    acknowledged = {
        visit_id for visit_id, (status, where) in answers.items() if status == 302 and where
    }
    assert all(
        status == 302 and re.fullmatch(r"/staff/patients/\w+", where)
        for status, where in answers.values()
    ), answers

    archive = archive_of(env)
    try:
        left_pending = pending_records(archive)
        restart_until_repaired(server, lambda: pending_records(archive))

        # Every clinician's session outlived the kill (it is in the database): each visit's
        # page is opened again and signed where the form is still offered.
        again_clients = [logged_in(server.url, email) for email in emails]

        def resend(number: int) -> list[tuple[str, tuple[int, str]]]:
            # Each clinician's browser takes its own share of the visits, one at a time.
            client = again_clients[number]
            return [(v, record(client, v, lot_id)) for v in visits[number::SENDERS]]

        with ThreadPoolExecutor(max_workers=SENDERS) as pool:
            shares = list(pool.map(resend, range(SENDERS), timeout=300))
        resent = dict(pair for share in shares for pair in share)
        again = [resent[v] for v in visits]
        odd = [
            a
            for a in again
            if a != (200, "given") and not (a[0] == 302 and a[1].startswith("/staff/patients/"))
        ]
        assert odd == [], odd
        for visit_id, (_, where) in zip(visits, again, strict=True):
            if visit_id in acknowledged:
                assert where == "given", "an acknowledged injection was asked for again"
        server.stop()
        repair = intake_command(env, "archive", "repair", "--grace", "0")
        assert repair.returncode == 0, repair.stdout + repair.stderr
        removed = int(re.search(r"(\d+) unnamed PDFs removed", repair.stdout).group(1))

        with archive.sessions() as session:
            injections = list(session.scalars(select(Injection)))
            visit_rows = list(session.scalars(select(Visit)))
            records = {r.id: r for r in session.scalars(select(Record))}
            assert audit.verify(session).holds
            events = Counter(
                session.execute(
                    select(AuditEvent.event, AuditEvent.target).where(
                        AuditEvent.event.in_(
                            ("record created", "record archived", "injection recorded")
                        )
                    )
                ).all()
            )
        per_visit = Counter(i.visit_id for i in injections)
        assert set(per_visit) == set(visits) and set(per_visit.values()) == {1}, per_visit
        assert acknowledged <= set(per_visit)
        assert all(v.status == VISIT_GIVEN for v in visit_rows)
        assert len(records) == BURST and {i.record_id for i in injections} == set(records)
        for injection in injections:
            record_row = records[injection.record_id]
            assert record_row.kind == "injection" and record_row.status == "archived"
            pdf = archive.records.pdf(record_row.id)
            assert hashlib.sha256(pdf).hexdigest() == record_row.pdf_sha256
            assert archive.check(pdf).holds
        assert set(events.values()) == {1} and len(events) == 3 * BURST
        assert stray_pdfs(archive) == []
    finally:
        archive.dispose()
    show(
        capsys,
        f"\n[kill] injection records ({env['STORAGE']}, {env['DATABASE_URL'].split(':')[0]}): "
        f"{len(acknowledged)} of {BURST} acknowledged before the kill; the kill left "
        f"{left_pending} records pending; all {BURST} recorded once after the restart and the "
        f"resend; `intake archive repair --grace 0` removed {removed} unnamed PDFs",
    )
