"""Crash injection, the way SQLite's crash tests work: die at every step of storing a consent.

A child process (`tests/support/crash_child.py`, a fork server: it imports the app once, then forks
one child per run) stores the demo consent with `Archive.submit`, counting the steps of the store
path: each file-system call under the run's folder (open, write, fchmod, fsync, mkdir, link,
unlink...) and each database commit. A first run with no crash counts the steps, S. Then, for
every N in 1..S, a run dies with `os._exit` at step N:

- before the step, and after it;
- after it, with a power cut: what no fsync had made durable is taken back (see the child);
- for each write: half written.

After each run the test does what the app does on its next start, `Archive.repair` with no grace,
then checks: no consent is left pending (or a second repair finishes it, its submission intact);
every archived row's PDF is stored with the SHA-256 and size the row records and its seal
holds; nothing is stored that no row names (no temporary file either); the audit chain holds;
the consent is there exactly once if the child had committed its `pending` row, else not at all;
and the tablet's submit sent again finds that consent (or makes it, once).

On SQLite and PostgreSQL, with `STORAGE=files` and `STORAGE=database`. Each configuration
prints "faults injected: N, survived: N".
"""

from __future__ import annotations

import hashlib
import json
import secrets
import shutil
import subprocess
import sys
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
from intake.archive.blobs import BlobMissing
from intake.archive.models import ARCHIVED, PENDING, Consent, PdfBlob
from intake.archive.service import Archive, ArchiveSettings
from intake.certificates import clinic_signer
from intake.config import PROJECT_ROOT
from intake.definition import FormCatalog
from intake.submission import Submission, validate_submission
from tests.support.migrated import copy_database, migrate

CHILD = Path(__file__).parent / "support" / "crash_child.py"
CRASHED = 77
REPAIR = Actor(user_agent="crash test: the next start")
TABLET = Actor(user_agent="crash test: the tablet sends the submit again")


@dataclass(frozen=True)
class Result:
    status: int
    steps: list[str]


class Crasher:
    """The fork server: one run per call, answered with the exit code and the steps reached."""

    def __init__(self, certificates: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(CHILD), str(certificates)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=PROJECT_ROOT,
        )
        assert self._answer() == {"ready": True}

    def _answer(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, f"the crash child stopped (exit code {self.process.poll()})"
        return json.loads(line)

    def send(self, run: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(run) + "\n")
        self.process.stdin.flush()

    def result(self) -> Result:
        """The answer to the oldest run sent and not yet answered."""
        answer = self._answer()
        return Result(answer["status"], answer["steps"])

    def run(self, **run: Any) -> Result:
        self.send(run)
        return self.result()

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


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


@pytest.fixture(scope="module")
def demo_submission(catalog: FormCatalog) -> Submission:
    data = json.loads((PROJECT_ROOT / "intake" / "demo_submission.json").read_text("utf-8"))
    return validate_submission(data, catalog)


class Databases:
    """A fresh archive database per run, copied from one migrated to the newest schema."""

    def __init__(self, backend: str, request: pytest.FixtureRequest, folder: Path) -> None:
        self.backend = backend
        self.made: list[str] = []
        if backend == "sqlite":
            self.template = folder / "template.sqlite3"
            migrate(f"sqlite:///{self.template}")
            return
        self.server = request.getfixturevalue("postgres_server")
        self.template_url = self.server.create_database()
        migrate(self.template_url)
        self.admin = psycopg.connect(
            host="127.0.0.1", port=self.server.port, user="postgres", dbname="postgres",
            autocommit=True,
        )  # fmt: skip

    def fresh(self, run_dir: Path) -> str:
        if self.backend == "sqlite":
            shutil.copyfile(self.template, run_dir / "archive.sqlite3")
            return f"sqlite:///{run_dir}/archive.sqlite3"
        name = f"crash_{secrets.token_hex(6)}"
        copy_database(self.admin, name, self.template_url.rsplit("/", 1)[1])
        self.made.append(name)
        return self.server.url(name)

    def close(self) -> None:
        if self.backend == "sqlite":
            return
        for name in [*self.made, self.template_url.rsplit("/", 1)[1]]:
            self.admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        self.admin.close()


@dataclass
class Run:
    """One child run: its folder, archive and key."""

    folder: Path
    database_url: str
    storage: str
    key: str = field(default_factory=lambda: secrets.token_hex(32))

    @property
    def files_dir(self) -> Path:
        # Not there yet: the first consent makes it, as on a new install.
        return self.folder / "archive"

    def child(self, crash_at: int, when: str, breaks: tuple[str, ...] = ()) -> dict[str, Any]:
        return {
            "run_dir": str(self.folder),
            "files_dir": str(self.files_dir),
            "database_url": self.database_url,
            "storage": self.storage,
            "crash_at": crash_at,
            "when": when,
            "key": self.key,
            "breaks": list(breaks),
        }


def stored_bytes(archive: Archive, sha256: str) -> bytes | None:
    with archive.sessions() as session:
        try:
            return archive.blobs.get(session, sha256)
        except BlobMissing:
            return None


_SEALS: dict[str, bool] = {}


def seal_holds(archive: Archive, pdf: bytes) -> bool:
    sha256 = hashlib.sha256(pdf).hexdigest()
    if sha256 not in _SEALS:
        _SEALS[sha256] = archive.check(pdf).holds
    return _SEALS[sha256]


def check_after_crash(
    run: Run, archive: Archive, submission: Submission, committed: bool
) -> list[str]:
    """Repair as the next start would, then every check of the module's docstring."""
    problems: list[str] = []
    report = archive.repair(REPAIR, grace_seconds=0)
    problems += [f"repair could not finish a consent: {reason}" for _, reason in report.failed]
    with archive.sessions() as session:
        pending = list(session.scalars(select(Consent).where(Consent.status == PENDING)))
    if pending:
        problems += [
            "a pending consent's submission changed"
            for consent in pending
            if consent.submission_json != submission.canonical_json()
        ]
        archive.repair(REPAIR, grace_seconds=0)
        if archive.counts().get(PENDING):
            problems.append("a consent is still pending after a second repair")

    def stored_state(label: str) -> list[Consent]:
        found: list[str] = []
        with archive.sessions() as session:
            rows = list(session.scalars(select(Consent)))
            blobs = set(session.scalars(select(PdfBlob.sha256)))
            chain = audit.verify(session)
        named = {row.pdf_sha256 for row in rows if row.pdf_sha256}
        for row in rows:
            if row.status != ARCHIVED:
                continue
            pdf = stored_bytes(archive, row.pdf_sha256 or "")
            if pdf is None:
                found.append(f"{label}: an archived consent's PDF is missing")
            elif hashlib.sha256(pdf).hexdigest() != row.pdf_sha256 or len(pdf) != row.pdf_size:
                found.append(f"{label}: an archived consent's PDF does not match its row")
            elif not seal_holds(archive, pdf):
                found.append(f"{label}: an archived consent's seal does not hold")
        files = sorted(
            str(path.relative_to(run.files_dir))
            for path in run.files_dir.rglob("*")
            if not path.is_dir()
        ) if run.files_dir.exists() else []  # fmt: skip
        expected = sorted(f"{sha[:2]}/{sha}.pdf" for sha in named)
        if run.storage == "database":
            expected = []
            if blobs != named:
                found.append(f"{label}: stored PDFs no row names: {len(blobs - named)}")
        if files != expected:
            found.append(f"{label}: files no row names: {sorted(set(files) - set(expected))}")
        if not chain.holds:
            found.append(f"{label}: the audit chain breaks: {chain.reason}")
        problems.extend(found)
        return [row for row in rows if row.submit_key == run.key]

    mine = stored_state("after repair")
    if len(mine) != (1 if committed else 0):
        problems.append(f"the consent is there {len(mine)} times; expected {1 if committed else 0}")
    if committed and mine and mine[0].status != ARCHIVED:
        problems.append("the consent is not archived")
    again = archive.submit(submission, TABLET, key=run.key)
    mine_again = stored_state("after the submit was sent again")
    if [c.id for c in mine_again] != [again] or mine_again[0].status != ARCHIVED:
        problems.append("the repeated submit did not find (or make) exactly one archived consent")
    if committed and mine and again != mine[0].id:
        problems.append("the repeated submit made a second consent")
    return problems


@dataclass
class Tally:
    injected: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def survived(self) -> int:
        return self.injected - len(self.failures)


class Harness:
    def __init__(
        self,
        crasher: Crasher,
        databases: Databases,
        storage: str,
        folder: Path,
        catalog: FormCatalog,
        certificates: Path,
        submission: Submission,
    ) -> None:
        self.crasher = crasher
        self.databases = databases
        self.storage = storage
        self.folder = folder
        self.catalog = catalog
        self.certificates = certificates
        self.submission = submission
        self.count = 0

    def new_run(self) -> Run:
        self.count += 1
        folder = self.folder / f"run{self.count}"
        folder.mkdir()
        return Run(folder, self.databases.fresh(folder), self.storage)

    def archive(self, run: Run) -> Archive:
        settings = ArchiveSettings(
            database_url=run.database_url,
            storage=run.storage,
            files_dir=run.files_dir,
            certificates_dir=self.certificates,
        )
        return Archive(settings, self.catalog)

    def crash(self, crash_at: int, when: str, *, breaks: tuple[str, ...] = ()) -> list[str]:
        """One run that dies at step `crash_at`, then the checks; the problems found."""
        ((_, _, problems),) = self.crash_each([(crash_at, when)], breaks=breaks)
        return problems

    def crash_each(
        self, plan: list[tuple[int, str]], *, breaks: tuple[str, ...] = ()
    ) -> Iterator[tuple[int, str, list[str]]]:
        """Each (step, when) of `plan` run and checked: one child runs while the checks of the
        one before it run here."""
        sent: list[tuple[Run, int, str]] = []
        for i in range(len(plan) + 1):
            if i < len(plan):
                run, (crash_at, when) = self.new_run(), plan[i]
                self.crasher.send(run.child(crash_at, when, breaks))
                sent.append((run, crash_at, when))
            if i == 0:
                continue
            run, crash_at, when = sent[i - 1]
            yield crash_at, when, self.check(run, crash_at, when, breaks)

    def check(self, run: Run, crash_at: int, when: str, breaks: tuple[str, ...]) -> list[str]:
        result = self.crasher.result()
        problems = []
        if result.status != CRASHED:
            problems.append(f"the child did not crash (exit code {result.status})")
        if not breaks and result.steps != self.steps[:crash_at]:
            problems.append(f"the child took another path: {result.steps}")
        archive = self.archive(run)
        try:
            committed = crash_at > self.accept or (crash_at == self.accept and when != "before")
            problems += check_after_crash(run, archive, self.submission, committed)
        finally:
            archive.dispose()
        return problems

    def trace(self, breaks: tuple[str, ...]) -> list[str]:
        """The steps of a run with no crash, with `breaks` put into the child's code."""
        result = self.crasher.run(**self.new_run().child(0, "before", breaks))
        assert result.status == 0
        return result.steps

    def count_steps(self) -> list[str]:
        run = self.new_run()
        result = self.crasher.run(**run.child(0, "before"))
        assert result.status == 0, "the run with no crash failed: see its stderr"
        archive = self.archive(run)
        try:
            assert check_after_crash(run, archive, self.submission, True) == []
        finally:
            archive.dispose()
        self.steps = result.steps
        self.accept = result.steps.index("commit") + 1
        return result.steps


@pytest.fixture
def harness(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    crasher: Crasher,
    catalog: FormCatalog,
    certificates: Path,
    demo_submission: Submission,
) -> Iterator[Any]:
    made: list[Databases] = []

    def make(backend: str, storage: str) -> Harness:
        databases = Databases(backend, request, tmp_path)
        made.append(databases)
        return Harness(
            crasher, databases, storage, tmp_path, catalog, certificates, demo_submission
        )

    yield make
    for databases in made:
        databases.close()


@pytest.mark.parametrize("storage", ["files", "database"])
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_crash_at_any_step_of_storing_a_consent_loses_nothing(
    harness: Any, backend: str, storage: str, capsys: pytest.CaptureFixture[str]
):
    started = time.perf_counter()
    h: Harness = harness(backend, storage)
    steps = h.count_steps()
    assert steps.count("commit") == 2  # the pending row, then the archived one
    every = range(1, len(steps) + 1)
    plan = [(n, "before") for n in every]
    if backend == "sqlite":
        plan += [(n, "after") for n in every]
        if storage == "files":
            plan += [(n, "powercut") for n in every]
    else:
        # Dying after step N leaves what dying before step N+1 does (nothing reaches the disk
        # or the database between two steps), and the power-cut model is about files only: on
        # PostgreSQL, where only the commits behave differently, once after the last step.
        plan.append((len(steps), "after"))
    plan += [(n, "torn") for n, label in enumerate(steps, 1) if label.startswith("write")]
    tally = Tally()
    for n, when, problems in h.crash_each(plan):
        tally.injected += 1
        if problems:
            tally.failures.append(f"step {n} ({steps[n - 1]}), {when}: {'; '.join(problems)}")
    with capsys.disabled():
        print(
            f"\ncrash injection, {backend}, STORAGE={storage}: {len(steps)} steps "
            f"({', '.join(steps)}); faults injected: {tally.injected}, "
            f"survived: {tally.survived} ({time.perf_counter() - started:.1f} s)"
        )
    assert tally.injected == len(plan)
    assert tally.failures == []


def test_the_power_cut_model_catches_a_missing_folder_fsync(harness: Any):
    """The checks have teeth: with the folder fsyncs taken out, a power cut right after the
    commit that names the PDF loses the PDF's name, and the checks say so."""
    h: Harness = harness("sqlite", "files")
    assert h.crash(len(h.count_steps()), "powercut") == []
    broken = h.trace(breaks=("no-folder-fsync",))
    assert broken[-1] == "commit" and not any("folder" in s and "fsync" in s for s in broken)
    problems = h.crash(len(broken), "powercut", breaks=("no-folder-fsync",))
    assert any("PDF is missing" in problem for problem in problems), problems
