"""Load: 200 complete tablet submissions from 20 concurrent tablets against the app under gunicorn.

Bounded and loopback only: the servers listen on 127.0.0.1, every request has a timeout, and the
servers are stopped in the fixtures' teardown whatever happens.

1. One gunicorn (2 workers) on SQLite with `STORAGE=files`.
2. Two gunicorns (1 worker each: this machine has 2 cores, so the two setups get the same
   number of workers) sharing one real PostgreSQL database with `STORAGE=database`, each with
   an instance folder of its own, sealing with one PKCS#12 certificate made for the test
   (`SIGNING_P12`; nothing shared on local disk). Each request of a patient's walk goes to the
   other server than the one before (drafts live in the database), so nothing may live on one
   server only.

Worker class: gthread (4 threads a worker). A submit spends a good part of its time waiting on
fsync (the PDF file, its folder, the WAL commit) or on PostgreSQL; a sync worker sits idle
through every such wait while 19 other tablets queue, a gthread worker serves another request
meanwhile. It also keeps working without a buffering proxy in front (a slow tablet on Wi-Fi
does not hold a whole worker), which a sync worker needs.

After each run: no 5xx, every submit redirected to /tablet/done, exactly the 200 consents
archived (none pending), each name once, each PDF's seal holds and its SHA-256 is the one the
archive recorded, and no patient's name (nor their email) appears in any log line or in any
cookie the servers set. The figures are printed: submissions per second, p50/p95 of the submit
POST, total time.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from intake.archive.models import Consent
from intake.archive.service import Archive
from tests.support.certificates import P12_PASSWORD, make_p12
from tests.support.serving import (
    GunicornServer,
    NoAnswer,
    TabletClient,
    app_env,
    archive_of,
    enrolled_tokens,
    intake_command,
    percentile,
    show,
    submission_for,
    unique_token,
)

SUBMISSIONS = 200
CLIENTS = 20
#: Seconds the whole run may take at most: a bound on a stuck run, not a speed target.
RUN_TIMEOUT = 150
WORKER_CLASS = "gthread"
THREADS = 4


@dataclass
class Outcome:
    """What one tablet saw."""

    surname: str
    server: str = ""
    submit_status: int | None = None
    submit_location: str | None = None
    submit_seconds: float | None = None
    done_status: int | None = None
    statuses: list[tuple[str, str, str, int | None]] = field(default_factory=list)
    set_cookies: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class LoadRun:
    outcomes: list[Outcome]
    seconds: float

    @property
    def latencies(self) -> list[float]:
        return [o.submit_seconds for o in self.outcomes if o.submit_seconds is not None]

    def figures(self, label: str) -> str:
        lat = self.latencies
        return (
            f"\n[load] {label}: {len(self.outcomes)} submissions from {CLIENTS} tablets in "
            f"{self.seconds:.1f} s = {len(self.outcomes) / self.seconds:.1f} submissions/s; "
            f"submit POST p50 {percentile(lat, 0.5) * 1000:.0f} ms, "
            f"p95 {percentile(lat, 0.95) * 1000:.0f} ms, max {max(lat) * 1000:.0f} ms"
        )


def one_tablet(servers: list[str], index: int, alternate: bool, device: str) -> Outcome:
    outcome = Outcome(surname=unique_token())
    client = TabletClient(servers, home=index, alternate=alternate, timeout=60, device=device)
    outcome.server = servers[index % len(servers)]
    try:
        client.prepare(submission_for(outcome.surname))
        answer, seconds = client.submit()
        outcome.submit_status = answer.status
        outcome.submit_location = answer.header("Location")
        outcome.submit_seconds = seconds
        outcome.done_status = client.request("GET", "/tablet/done").status
    except (AssertionError, NoAnswer) as exc:
        outcome.error = f"{type(exc).__name__}: {exc}"[:600]
    outcome.statuses = [(h.method, h.path, h.server, h.status) for h in client.hits]
    outcome.set_cookies = client.session_payload()
    return outcome


def run_load(servers: list[str], env: dict[str, str], *, alternate: bool) -> LoadRun:
    """SUBMISSIONS complete walks, CLIENTS at a time; each tablet starts from a fresh session.
    CLIENTS tablets are enrolled first (in the archive `env` names), each taking every
    CLIENTS-th walk."""
    devices = enrolled_tokens(env, CLIENTS)
    outcomes: list[Outcome] = []
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=CLIENTS, thread_name_prefix="tablet") as pool:
        futures = [
            pool.submit(one_tablet, servers, i, alternate, devices[i % CLIENTS])
            for i in range(SUBMISSIONS)
        ]
        try:
            for future in as_completed(futures, timeout=RUN_TIMEOUT):
                outcomes.append(future.result())
        finally:
            for future in futures:
                future.cancel()
    return LoadRun(outcomes, time.perf_counter() - started)


def check_run(run: LoadRun, archive: Archive, servers: list[GunicornServer]) -> None:
    # Every tablet got through, with no server error anywhere.
    errors = [o.error for o in run.outcomes if o.error]
    assert not errors, f"{len(errors)} tablets failed, first: {errors[:3]}"
    server_errors = [s for o in run.outcomes for s in o.statuses if s[3] is None or s[3] >= 500]
    assert not server_errors, server_errors[:10]
    assert len(run.outcomes) == SUBMISSIONS
    for outcome in run.outcomes:
        assert outcome.submit_status == 302, outcome
        assert (outcome.submit_location or "").endswith("/tablet/done"), outcome
        assert outcome.done_status == 200, outcome

    # Exactly these consents, each once, all archived.
    assert archive.counts() == {"archived": SUBMISSIONS}
    with archive.sessions() as session:
        rows = session.execute(select(Consent.id, Consent.legal_name, Consent.pdf_sha256)).all()
    expected = Counter(f"Zoë {o.surname}" for o in run.outcomes)
    assert Counter(name for _, name, _ in rows) == expected

    # Each PDF is sealed by the clinic, unchanged, and is the file the archive recorded.
    for consent_id, _, sha256 in rows:
        pdf = archive.pdf(consent_id)
        assert hashlib.sha256(pdf).hexdigest() == sha256
        report = archive.check(pdf)
        assert report.holds, (consent_id, report.problems)

    # No patient name (nor email) in any log line or cookie.
    logs = "\n".join(server.log_text() for server in servers).casefold()
    assert logs.count('"post /tablet/submit http/1.1" 302') == SUBMISSIONS
    cookies = "\n".join(c for o in run.outcomes for c in o.set_cookies).casefold()
    assert cookies, "no cookie was set"
    leaks = [
        o.surname
        for o in run.outcomes
        if o.surname.casefold() in logs or o.surname.casefold() in cookies
    ]
    assert not leaks, f"patient names in the logs or cookies: {leaks[:5]}"


def verify_one_with_the_cli(env: dict[str, str], archive: Archive, folder: Path) -> None:
    """`intake verify --archive` on one stored PDF: the operator's own check agrees."""
    with archive.sessions() as session:
        consent_id = session.scalar(select(Consent.id).limit(1))
    path = folder / "one.pdf"
    path.write_bytes(archive.pdf(consent_id))
    result = intake_command(env, "verify", str(path), "--archive")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"archive: matches consent {consent_id}" in result.stdout


def test_one_server_on_sqlite(tmp_path: Path, servers, capsys):
    env = app_env(tmp_path / "a")
    upgrade = intake_command(env, "db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr
    server = GunicornServer(
        env, tmp_path / "logs", name="a", workers=2, worker_class=WORKER_CLASS, threads=THREADS
    )
    servers.append(server)
    server.start()

    run = run_load([server.url], env, alternate=False)
    show(capsys, run.figures(f"1 gunicorn x 2 {WORKER_CLASS} workers, SQLite, STORAGE=files"))

    archive = archive_of(env)
    try:
        check_run(run, archive, servers)
        # Nothing else under the archive folder: every file is named by a consent.
        files = {p.stem for p in (Path(env["INSTANCE_PATH"]) / "archive").glob("*/*")}
        with archive.sessions() as session:
            assert files == set(session.scalars(select(Consent.pdf_sha256)))
        verify_one_with_the_cli(env, archive, tmp_path)
    finally:
        archive.dispose()


#: Tablet drafts live in the database with STORAGE=database, so each request of a patient's
#: walk goes to the other server than the one before: nothing may live on one server only.
STEP_BY_STEP = True


def test_two_servers_share_one_postgresql(tmp_path: Path, servers, postgres_server, capsys):
    database_url = postgres_server.create_database()
    p12 = tmp_path / "clinic.p12"
    make_p12(p12)
    shared = {
        "DATABASE_URL": database_url,
        "STORAGE": "database",
        "SIGNING_P12": p12,
        "SIGNING_P12_PASSWORD": P12_PASSWORD,
    }
    envs = [app_env(tmp_path / name, **shared) for name in ("a", "b")]
    upgrade = intake_command(envs[0], "db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr
    for name, env in zip(("a", "b"), envs, strict=True):
        server = GunicornServer(
            env, tmp_path / "logs", name=name, workers=1, worker_class=WORKER_CLASS,
            threads=THREADS,
        )  # fmt: skip
        servers.append(server)
    # Both start at once: two start-up repairs on one database must not trip over each other.
    starts = [threading.Thread(target=s.start) for s in servers]
    for thread in starts:
        thread.start()
    for thread in starts:
        thread.join(timeout=90)
    assert all(s.running for s in servers), [s.log_tail() for s in servers]

    run = run_load([s.url for s in servers], envs[0], alternate=STEP_BY_STEP)
    how = "each step on the other server" if STEP_BY_STEP else "tablets alternating servers"
    show(
        capsys,
        run.figures(
            f"2 gunicorns x 1 {WORKER_CLASS} worker, one PostgreSQL, STORAGE=database, {how}"
        ),
    )

    # Both servers took their share of the work.
    per_server = Counter(server for o in run.outcomes for _, _, server, _ in o.statuses)
    assert all(per_server[s.url] > 0 for s in servers), per_server

    archive = archive_of(envs[0])
    try:
        check_run(run, archive, servers)
        # Nothing went to local disk: no PDF file under either instance folder, and both
        # servers kept the one certificate they sealed with.
        for env in envs:
            instance = Path(env["INSTANCE_PATH"])
            assert not list(instance.rglob("*.pdf"))
            kept = [p.name for p in (instance / "certificates").glob("*.pem")]
            assert len(kept) == 1
        assert {p.name for p in (Path(envs[0]["INSTANCE_PATH"]) / "certificates").glob("*")} == {
            p.name for p in (Path(envs[1]["INSTANCE_PATH"]) / "certificates").glob("*")
        }
        verify_one_with_the_cli(envs[1], archive, tmp_path)
    finally:
        archive.dispose()
        postgres_server.drop_database(database_url)
