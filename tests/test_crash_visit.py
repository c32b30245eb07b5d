"""Crash injection on the course records' store path: a visit's check-in (`Visits.check_in`, the
record store every kind uses), killed at every step as `test_crash_injection.py` kills the
consent's (the same fork server, `tests/support/crash_child.py`, with `"what": "visit"`).

Each run starts from a copy of an archive that holds an archived consent, its patient, an
enrolled tablet and the visit staff opened for it (and, with files, every PDF folder). After the
crash the test repairs as the next start would, then checks: no record is left pending; if the
child had committed the pending record, the visit is checked in to exactly that record, whose
PDF is stored with the SHA-256 and size its row records and whose seal holds; if not, the visit
is still open and no record exists; nothing is stored that no row names; the consent's PDF is
still there; the audit chain holds; and the tablet's submit sent again finds the record (or
makes it, once).

On SQLite and PostgreSQL, with `STORAGE=files` and `STORAGE=database`.
"""

from __future__ import annotations

import secrets
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import select

from intake.archive import audit
from intake.archive.audit import Actor
from intake.archive.course_models import VISIT_CHECKED_IN, VISIT_OPEN, Record, Visit
from intake.archive.models import ARCHIVED, PENDING, Consent, PdfBlob
from intake.archive.service import Archive, ArchiveSettings
from intake.archive.tablets import Tablets
from intake.archive.visits import Visits
from intake.certificates import clinic_signer
from intake.checkin import validate_checkin
from intake.definition import FormCatalog
from intake.submission import validate_submission
from tests.support.app import demo_submission
from tests.support.migrated import copy_database, migrate
from tests.test_crash_injection import CRASHED, Crasher, Tally, seal_holds, stored_bytes

REPAIR = Actor(user_agent="crash test: the next start")
TABLET = Actor(user_agent="crash test: the tablet sends the check-in again")
DEVICE = {"user_agent": "crash test", "ip": "192.0.2.7"}


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("certificates")
    clinic_signer(folder)
    return folder


@pytest.fixture(scope="module")
def crasher(certificates: Path) -> Iterator[Crasher]:
    crasher = Crasher(certificates)
    yield crasher
    crasher.close()


def checkin_of(catalog: FormCatalog):
    data = demo_submission()
    definition = catalog.get(data["form"])
    answers = {
        q.id: {"yes": q.pick_tier, **({"tier": "serious", "items": []} if q.pick_tier else {})}
        for q in definition.visit_screening
    }
    return validate_checkin(
        {"answers": answers, "signature": data["signature"], "signed_at": data["signed_at"]},
        definition,
    )


@dataclass
class Template:
    """An archive with a visit open: its database (a file, or a PostgreSQL template) and folder."""

    database_url: str
    files_dir: Path
    visit_id: str
    tablet_id: str


@dataclass
class Run:
    folder: Path
    database_url: str
    storage: str
    visit_id: str
    tablet_id: str
    key: str = field(default_factory=lambda: secrets.token_hex(32))

    @property
    def files_dir(self) -> Path:
        return self.folder / "archive"

    def child(self, crash_at: int, when: str) -> dict[str, Any]:
        return {
            "what": "visit",
            "run_dir": str(self.folder),
            "files_dir": str(self.files_dir),
            "database_url": self.database_url,
            "storage": self.storage,
            "crash_at": crash_at,
            "when": when,
            "key": self.key,
            "visit_id": self.visit_id,
            "tablet_id": self.tablet_id,
        }


class Harness:
    def __init__(
        self,
        crasher: Crasher,
        backend: str,
        storage: str,
        folder: Path,
        catalog: FormCatalog,
        certificates: Path,
        request: pytest.FixtureRequest,
    ) -> None:
        self.crasher = crasher
        self.backend = backend
        self.storage = storage
        self.folder = folder
        self.catalog = catalog
        self.certificates = certificates
        self.checkin = checkin_of(catalog)
        self.count = 0
        self.made: list[str] = []
        if backend == "postgresql":
            self.server = request.getfixturevalue("postgres_server")
            url = self.server.create_database()
            self.admin = psycopg.connect(
                host="127.0.0.1", port=self.server.port, user="postgres", dbname="postgres",
                autocommit=True,
            )  # fmt: skip
        else:
            url = f"sqlite:///{folder / 'template.sqlite3'}"
        self.template = self._fill(url, folder / "template-archive")

    def _archive(self, database_url: str, files_dir: Path) -> Archive:
        settings = ArchiveSettings(
            database_url=database_url,
            storage=self.storage,
            files_dir=files_dir,
            certificates_dir=self.certificates,
        )
        return Archive(settings, self.catalog)

    def _fill(self, url: str, files_dir: Path) -> Template:
        migrate(url)
        archive = self._archive(url, files_dir)
        try:
            data = demo_submission()
            consent_id = archive.submit(validate_submission(data, self.catalog), REPAIR)
            consent = archive.get(consent_id)
            tablet = Tablets(archive).enrol_directly("Front desk 1", REPAIR, enrolled_by=None)
            visit = Visits(archive).start(
                consent.patient_id, tablet.tablet.id, REPAIR, today=consent.signed_on
            )
        finally:
            archive.dispose()
        if self.storage == "files":
            # Every two-digit PDF folder exists already, so that each run takes the same steps
            # whatever its record's SHA-256 (the consents' crash test covers making one).
            for n in range(256):
                (files_dir / f"{n:02x}").mkdir(mode=0o700, exist_ok=True)
        return Template(url, files_dir, visit.id, tablet.tablet.id)

    def new_run(self) -> Run:
        self.count += 1
        folder = self.folder / f"run{self.count}"
        folder.mkdir()
        if self.template.files_dir.exists():
            shutil.copytree(self.template.files_dir, folder / "archive")
        if self.backend == "sqlite":
            shutil.copyfile(self.folder / "template.sqlite3", folder / "archive.sqlite3")
            url = f"sqlite:///{folder}/archive.sqlite3"
        else:
            name = f"crash_{secrets.token_hex(6)}"
            copy_database(self.admin, name, self.template.database_url.rsplit("/", 1)[1])
            self.made.append(name)
            url = self.server.url(name)
        return Run(folder, url, self.storage, self.template.visit_id, self.template.tablet_id)

    def count_steps(self) -> list[str]:
        run = self.new_run()
        result = self.crasher.run(**run.child(0, "before"))
        assert result.status == 0, "the run with no crash failed: see its stderr"
        assert self.check(run, True) == []
        self.steps = result.steps
        self.accept = result.steps.index("commit") + 1
        return result.steps

    def crash_each(self, plan: list[tuple[int, str]]) -> Iterator[tuple[int, str, list[str]]]:
        for crash_at, when in plan:
            run = self.new_run()
            result = self.crasher.run(**run.child(crash_at, when))
            problems = []
            if result.status != CRASHED:
                problems.append(f"the child did not crash (exit code {result.status})")
            if result.steps != self.steps[:crash_at]:
                problems.append(f"the child took another path: {result.steps}")
            committed = crash_at > self.accept or (crash_at == self.accept and when != "before")
            yield crash_at, when, problems + self.check(run, committed)

    def check(self, run: Run, committed: bool) -> list[str]:
        archive = self._archive(run.database_url, run.files_dir)
        try:
            return check_after_crash(run, archive, self.checkin, committed)
        finally:
            archive.dispose()

    def close(self) -> None:
        if self.backend != "postgresql":
            return
        for name in [*self.made, self.template.database_url.rsplit("/", 1)[1]]:
            self.admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        self.admin.close()


def check_after_crash(run: Run, archive: Archive, checkin: Any, committed: bool) -> list[str]:
    problems: list[str] = []
    report = archive.repair(REPAIR, grace_seconds=0)
    problems += [f"repair could not finish: {reason}" for _, reason in report.failed]

    def state(label: str) -> tuple[list[Record], Visit]:
        found: list[str] = []
        with archive.sessions() as session:
            records = list(session.scalars(select(Record)))
            visit = session.get(Visit, run.visit_id)
            consents_named = {
                sha for sha in session.scalars(select(Consent.pdf_sha256)) if sha is not None
            }
            blobs = set(session.scalars(select(PdfBlob.sha256)))
            chain = audit.verify(session)
        assert visit is not None
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
        return records, visit

    records, visit = state("after repair")
    if committed:
        if (
            len(records) != 1
            or visit.status != VISIT_CHECKED_IN
            or visit.record_id != records[0].id
        ):
            problems.append("the committed check-in is not the visit's one record")
        elif records[0].status != ARCHIVED:
            problems.append("the record is not archived")
    elif records or visit.status != VISIT_OPEN:
        problems.append("a check-in that was never committed left a record or closed the visit")
    again = Visits(archive).check_in(
        run.visit_id, run.tablet_id, checkin, TABLET, device=DEVICE, key=run.key
    )
    records, visit = state("after the check-in was sent again")
    if [r.id for r in records] != [again] or visit.record_id != again:
        problems.append("the repeated check-in did not find (or make) exactly one record")
    return problems


@pytest.fixture
def harness(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    crasher: Crasher,
    catalog: FormCatalog,
    certificates: Path,
) -> Iterator[Any]:
    made: list[Harness] = []

    def make(backend: str, storage: str) -> Harness:
        h = Harness(crasher, backend, storage, tmp_path, catalog, certificates, request)
        made.append(h)
        return h

    yield make
    for h in made:
        h.close()


@pytest.mark.parametrize("storage", ["files", "database"])
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_crash_at_any_step_of_a_check_in_loses_nothing(
    harness: Any, backend: str, storage: str, capsys: pytest.CaptureFixture[str]
):
    started = time.perf_counter()
    h: Harness = harness(backend, storage)
    steps = h.count_steps()
    assert steps.count("commit") == 2  # the pending record with the visit, then the sealed one
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
            f"\ncrash injection, visit check-in, {backend}, STORAGE={storage}: {len(steps)} "
            f"steps ({', '.join(steps)}); faults injected: {tally.injected}, "
            f"survived: {tally.survived} ({time.perf_counter() - started:.1f} s)"
        )
    assert tally.injected == len(plan)
    assert tally.failures == []
