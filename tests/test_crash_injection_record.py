"""Crash injection on the injection record's store path (`Injections.record`: the clinician's
password checked, the record accepted with its injection row, then sealed), killed at every step
as `test_crash_visit.py` kills the check-in's (the same fork server, `tests/support/crash_child.py`,
with `"what": "injection"`).

Each run starts from a copy of an archive that holds an archived consent, its patient, a
checked-in visit, a lot in stock and a clinician logged in (and, with files, every PDF folder).
After the crash the test repairs as the next start would, then checks: no record is left
pending; if the child had committed the pending record, the visit is given with exactly one
injection on exactly that record, whose PDF is stored with the SHA-256 and size its row records
and whose seal holds; if not, the visit is still checked in and neither an injection nor a
record exists; nothing is stored that no row names; the consent's PDF is still there; the audit
chain holds; and the clinician's submit sent again finds the injection (or makes it, once).

On SQLite and PostgreSQL, with `STORAGE=files` and `STORAGE=database`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from intake.archive import audit
from intake.archive.accounts import Accounts
from intake.archive.audit import Actor
from intake.archive.course_models import VISIT_CHECKED_IN, VISIT_GIVEN, Injection, Record, Visit
from intake.archive.injections import InjectionEntry, Injections
from intake.archive.lots import Lots, NewLot
from intake.archive.models import ARCHIVED, PENDING, Consent, PdfBlob, Staff
from intake.submission import validate_submission
from tests.support.app import demo_submission
from tests.support.course_rows import add_visit
from tests.support.migrated import migrate
from tests.test_crash_injection import Tally, seal_holds, stored_bytes
from tests.test_crash_visit import REPAIR, Harness, Run, Template, certificates, crasher  # noqa: F401 - the module's fixtures

PASSWORD = "crash test clinician password 9"


@dataclass
class InjectionTemplate(Template):
    lot_id: str = ""
    staff_id: str = ""
    token: str = ""


@dataclass
class InjectionRun(Run):
    lot_id: str = ""
    staff_id: str = ""
    token: str = ""

    def child(self, crash_at: int, when: str) -> dict[str, Any]:
        return {
            **super().child(crash_at, when),
            "what": "injection",
            "lot_id": self.lot_id,
            "staff_id": self.staff_id,
            "token": self.token,
            "password": PASSWORD,
        }


class InjectionHarness(Harness):
    def _fill(self, url: str, files_dir: Path) -> InjectionTemplate:
        migrate(url)
        archive = self._archive(url, files_dir)
        try:
            data = demo_submission()
            data["screening"] = {key: False for key in data["screening"]}
            consent_id = archive.submit(validate_submission(data, self.catalog), REPAIR)
            consent = archive.get(consent_id)
            started = datetime.now(UTC) - timedelta(minutes=30)
            visit_id = add_visit(archive, consent.patient_id, consent_id, started_at=started)
            today = datetime.now(UTC).date()
            lot = Lots(archive).add(
                NewLot("Methylcobalamin", "1 mg/ml", "Pharmacy", "C-1", today + timedelta(200)),
                REPAIR, today=today,
            )  # fmt: skip
            accounts = Accounts(archive)
            staff = accounts.create(
                email="clinician@crash.example", name="Clara Crash", role="clinician",
                password=PASSWORD, actor=REPAIR,
            )  # fmt: skip
            token = accounts.login(staff.email, PASSWORD, REPAIR)
        finally:
            archive.dispose()
        if self.storage == "files":
            for n in range(256):
                (files_dir / f"{n:02x}").mkdir(mode=0o700, exist_ok=True)
        return InjectionTemplate(url, files_dir, visit_id, "", lot.id, staff.id, token)

    def new_run(self) -> InjectionRun:
        run = super().new_run()
        template = self.template
        return InjectionRun(
            run.folder, run.database_url, run.storage, run.visit_id, run.tablet_id,
            lot_id=template.lot_id, staff_id=template.staff_id, token=template.token,
        )  # fmt: skip

    def count_steps(self) -> list[str]:
        steps = super().count_steps()
        # The first commit is the password's check (`reauthenticated`); the second accepts the
        # pending record with the injection row.
        commits = [n for n, label in enumerate(steps, 1) if label == "commit"]
        self.accept = commits[1]
        return steps

    def check(self, run: Run, committed: bool) -> list[str]:
        archive = self._archive(run.database_url, run.files_dir)
        try:
            return check_after_crash(run, archive, committed)
        finally:
            archive.dispose()


def check_after_crash(run: Any, archive: Any, committed: bool) -> list[str]:
    problems: list[str] = []
    report = archive.repair(REPAIR, grace_seconds=0)
    problems += [f"repair could not finish: {reason}" for _, reason in report.failed]

    def state(label: str) -> tuple[list[Record], list[Injection], Visit]:
        found: list[str] = []
        with archive.sessions() as session:
            records = list(session.scalars(select(Record)))
            injections = list(session.scalars(select(Injection)))
            visit = session.get(Visit, run.visit_id)
            consents_named = {
                sha for sha in session.scalars(select(Consent.pdf_sha256)) if sha is not None
            }
            blobs = set(session.scalars(select(PdfBlob.sha256)))
            chain = audit.verify(session)
        named = consents_named | {r.pdf_sha256 for r in records if r.pdf_sha256}
        for record in records:
            if record.status == PENDING:
                found.append(f"{label}: a record is still pending")
                continue
            pdf = stored_bytes(archive, record.pdf_sha256 or "")
            if pdf is None:
                found.append(f"{label}: an archived record's PDF is missing")
            elif len(pdf) != record.pdf_size:
                found.append(f"{label}: an archived record's PDF does not match its row")
            elif not seal_holds(archive, pdf):
                found.append(f"{label}: an archived record's seal does not hold")
        for sha in consents_named:
            if stored_bytes(archive, sha) is None:
                found.append(f"{label}: the consent's PDF is missing")
        if run.storage == "database":
            if blobs != named:
                found.append(f"{label}: stored PDFs no row names: {len(blobs - named)}")
        else:
            files = sorted(
                str(p.relative_to(run.files_dir)) for p in run.files_dir.rglob("*") if p.is_file()
            )
            if files != sorted(f"{sha[:2]}/{sha}.pdf" for sha in named):
                found.append(f"{label}: files no row names, or a named file missing: {files}")
        if not chain.holds:
            found.append(f"{label}: the audit chain breaks: {chain.reason}")
        problems.extend(found)
        return records, injections, visit

    def one_injection(records: list[Record], injections: list[Injection], visit: Visit) -> bool:
        return (
            len(records) == 1
            and len(injections) == 1
            and injections[0].record_id == records[0].id
            and records[0].status == ARCHIVED
            and visit.status == VISIT_GIVEN
        )

    records, injections, visit = state("after repair")
    if committed and not one_injection(records, injections, visit):
        problems.append("the committed injection is not the visit's one injection and record")
    if not committed and (records or injections or visit.status != VISIT_CHECKED_IN):
        problems.append("an injection never committed left a row, a record or a given visit")
    with archive.sessions() as session:
        clinician = session.get(Staff, run.staff_id)
    now = datetime.now(UTC)
    entry = InjectionEntry(
        lot_id=run.lot_id, dose_mg=1.0, volume_ml=1.0, site="deltoid", side="left",
        given_at=now - timedelta(minutes=1),
    )  # fmt: skip
    outcome = Injections(archive, ZoneInfo("UTC")).record(
        run.visit_id, entry, clinician, token=run.token, password=PASSWORD, code="",
        actor=Actor(staff_id=run.staff_id), today=now.date(),
    )  # fmt: skip
    records, injections, visit = state("after the injection was sent again")
    if not one_injection(records, injections, visit) or outcome.injection_id != injections[0].id:
        problems.append("the repeated submit did not find (or make) exactly one injection")
    elif outcome.made == committed:
        problems.append("the repeated submit made a second injection, or found none")
    return problems


@pytest.fixture
def harness(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    crasher: Any,  # noqa: F811 - the fixture imported above
    catalog: Any,
    certificates: Path,  # noqa: F811
):
    made: list[InjectionHarness] = []

    def make(backend: str, storage: str) -> InjectionHarness:
        h = InjectionHarness(crasher, backend, storage, tmp_path, catalog, certificates, request)
        made.append(h)
        return h

    yield make
    for h in made:
        h.close()


@pytest.mark.parametrize("storage", ["files", "database"])
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_crash_at_any_step_of_an_injection_record_loses_nothing(
    harness: Any, backend: str, storage: str, capsys: pytest.CaptureFixture[str]
):
    started = time.perf_counter()
    h: InjectionHarness = harness(backend, storage)
    steps = h.count_steps()
    # The password's check, the pending record with the injection, then the sealed record.
    assert steps.count("commit") == 3, steps
    every = range(1, len(steps) + 1)
    plan = [(n, "before") for n in every]
    if backend == "sqlite":
        plan += [(n, "after") for n in every]
        if storage == "files":
            plan += [(n, "powercut") for n in every]
    else:
        plan.append((len(steps), "after"))
    plan += [(n, "torn") for n, label in enumerate(steps, 1) if label.startswith("write")]
    tally = Tally()
    for n, when, problems in h.crash_each(plan):
        tally.injected += 1
        if problems:
            tally.failures.append(f"step {n} ({steps[n - 1]}), {when}: {'; '.join(problems)}")
    with capsys.disabled():
        print(
            f"\ncrash injection, injection record, {backend}, STORAGE={storage}: {len(steps)} "
            f"steps ({', '.join(steps)}); faults injected: {tally.injected}, "
            f"survived: {tally.survived} ({time.perf_counter() - started:.1f} s)"
        )
    assert tally.injected == len(plan)
    assert tally.failures == []
