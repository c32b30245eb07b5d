"""End to end and memory: complete tablet submissions through the app under gunicorn on loopback.

`intake serve` (gunicorn with the deployment's settings: 2 gthread workers of 2 threads, as
README "Deploying" runs it) on 127.0.0.1 with a fresh instance folder (SQLite archive,
`STORAGE=files`, the self-signed clinic certificate the app makes on first use); 20 tablets at a
time, each an HTTP/1.1 client of its own on one kept-alive connection as a browser keeps one
(`KeptTablet`, on `tests/support/serving.py`'s `TabletClient`), walking one whole submission
from a fresh session: the welcome page, the four steps (each a GET for the page and its CSRF
token, then the POST), the review page, the submit, and the done page the submit redirects to:
13 requests per consent.

The run is 10 rounds of 100 submissions (1,000 in all, on the same server):
- part 3: consents per second per round (complete walks finished / the round's seconds; the
  load generator shares the machine's cores with the server), and per round p50 and p95 of
  the submit alone: POST /tablet/submit until its answer, which the app sends after the PDF is
  rendered, sealed, written and its row committed (`tablet.service.submit` → `Archive.submit`).
  Each figure is the median over the rounds.
- part 5: each worker's VmRSS after the first round and after the last, and its VmHWM (peak
  resident set since it started) at the end, read from /proc/<pid>/status. Where the kernel
  lets this process reset a worker's VmHWM (`echo 5 > /proc/<pid>/clear_refs`: root, or the
  same user), it is also reset once the workers have started, to tell a peak of the
  submissions from one of the start-up.

Then 30 more from one tablet at a time: the submit's own time, with no queue in front of it
(with 20 tablets walking flat out, a submit waits behind the other tablets' requests).

Every submit must answer 302 to /tablet/done and the archive must hold exactly the consents
submitted, all archived: a fast run that lost consents does not count.

    .venv/bin/python -m bench.bench_e2e [--rounds 10] [--per-round 100] [--clients 20]
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import tempfile
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlencode

from bench.measure import Figure, median, print_table
from tests.support.serving import (
    HOST,
    Answer,
    GunicornServer,
    Hit,
    NoAnswer,
    TabletClient,
    app_env,
    enrolled_tokens,
    intake_command,
    percentile,
    submission_for,
    unique_token,
)

WORKERS = 2
THREADS = 2
CLIENTS = 20
ROUNDS = 10
PER_ROUND = 100
REQUESTS_PER_CONSENT = 13
#: Consents from a single tablet after the rounds: the submit's own time, with no queue.
ALONE = 30
#: Issue 17: 25 whole walks a second on the 2 cores, p95 of the submit under 300 ms.
RATE_TARGET = 25
P95_TARGET_MS = 300
HWM_TARGET_MB = 150
#: RSS after the last round may exceed RSS after the first by at most this share (noise).
GROWTH_TOLERANCE = 0.05
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Round:
    seconds: float
    latencies: list[float]
    errors: list[str]
    rss_kb: dict[int, int]
    server_cpu: float
    client_cpu: float

    @property
    def rate(self) -> float:
        return (len(self.latencies) - len(self.errors)) / self.seconds


@dataclass
class Run:
    rounds: list[Round] = field(default_factory=list)
    start_rss_kb: dict[int, int] = field(default_factory=dict)
    #: VmHWM at the end: since the worker started...
    hwm_kb: dict[int, int] = field(default_factory=dict)
    #: ...and since it was reset once the workers had started (empty when it cannot be reset).
    load_hwm_kb: dict[int, int] = field(default_factory=dict)
    archived: dict[str, int] = field(default_factory=dict)
    #: The same walks from one tablet at a time, after the rounds: the submit without a queue.
    alone: Round | None = None


def children(pid: int) -> list[int]:
    """The child processes of `pid` (gunicorn's workers, for its master)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()]


def status_kb(pid: int, key: str) -> int:
    """One `kB` line of /proc/<pid>/status (VmRSS, VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def reset_hwm(pid: int) -> bool:
    """Reset the worker's VmHWM to its VmRSS (Linux 4.0+); False where not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of `pid` so far."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class KeptTablet(TabletClient):
    """`TabletClient` on one kept-alive connection, as a tablet's browser keeps one: every
    request and every check the same, without a TCP connection set up and torn down (on both
    sides of loopback) for each of a walk's 13 requests. A connection the server closed (its
    keep-alive timeout) is opened again for the next request.

    It speaks HTTP/1.1 on the socket itself (the request line and headers written in one
    piece; the answer's status line, headers and a `Content-Length` or chunked body read back)
    rather than through `http.client`, whose header parsing (the `email` package's) was most of
    the load generator's own CPU: what the generator spends is taken from the server's cores.
    """

    sock: socket.socket | None = None
    reader: BinaryIO | None = None

    def request(
        self,
        method: str,
        path: str,
        fields: Mapping[str, str] | None = None,
        *,
        multipart: bool = False,
    ) -> Answer:
        assert not multipart, "the walk posts forms only"
        server = self._server()
        host, port = server.removeprefix("http://").rsplit(":", 1)
        assert host == HOST, "loopback only"
        lines = [
            f"{method} {path} HTTP/1.1",
            f"Host: {host}:{port}",
            "User-Agent: intake-load-test",
        ]
        if self.cookies:
            lines.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        body = b""
        if fields is not None:
            body = urlencode(fields).encode()
            lines.append("Content-Type: application/x-www-form-urlencoded")
            lines.append(f"Content-Length: {len(body)}")
        message = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        for attempt in (1, 2):
            kept = self.sock is not None
            try:
                if self.sock is None:
                    self.sock = socket.create_connection((host, int(port)), timeout=self.timeout)
                    self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    self.reader = self.sock.makefile("rb")
                self.sock.sendall(message)
                status, headers, raw, close = read_answer(self.reader, method)
                break
            except (OSError, ValueError) as exc:
                self.close()
                # Once more on a new connection only when a kept one had been closed by the
                # server while idle: any other failure is the server's, and counts.
                if attempt == 2 or not kept or not isinstance(exc, KEPT_CLOSED):
                    self.hits.append(Hit(method, path, server, None))
                    raise NoAnswer(f"{method} {path} on {server}: {exc!r}") from exc
        if close:
            self.close()
        answer = Answer(status, headers, raw.decode("utf-8", errors="replace"))
        self.hits.append(Hit(method, path, server, status))
        self._keep_cookies(answer.headers)
        return answer

    def close(self) -> None:
        if self.reader is not None:
            self.reader.close()
            self.reader = None
        if self.sock is not None:
            self.sock.close()
            self.sock = None


class Closed(ConnectionResetError):
    """The server closed the connection before it answered."""


#: What a kept-alive connection the server has closed raises on its next request.
KEPT_CLOSED = (Closed, BrokenPipeError, ConnectionResetError)
#: The longest status or header line read (http.client's own limit).
LINE_LIMIT = 65536


def read_answer(reader: BinaryIO, method: str) -> tuple[int, list[tuple[str, str]], bytes, bool]:
    """One HTTP/1.1 answer: its status, headers, body, and whether the server closes the
    connection after it. Raises `Closed` at end of file before the status line, `ValueError`
    on anything that is not HTTP."""
    line = reader.readline(LINE_LIMIT + 1)
    if not line:
        raise Closed("the server closed the connection")
    version, _, rest = line.partition(b" ")
    if not version.startswith(b"HTTP/1.") or not rest[:3].isdigit():
        raise ValueError(f"not an HTTP status line: {line[:80]!r}")
    status = int(rest[:3])
    headers: list[tuple[str, str]] = []
    while True:
        line = reader.readline(LINE_LIMIT + 1)
        if line in (b"\r\n", b"\n"):
            break
        if not line or len(line) > LINE_LIMIT:
            raise ValueError("the answer's headers end early or run too long")
        name, colon, value = line.decode("latin-1").partition(":")
        if not colon:
            raise ValueError(f"not a header line: {line[:80]!r}")
        headers.append((name.strip(), value.strip()))
    fields = {name.lower(): value.lower() for name, value in headers}
    close = version == b"HTTP/1.0" or "close" in fields.get("connection", "")
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return status, headers, b"", close
    if "chunked" in fields.get("transfer-encoding", ""):
        body = read_chunked(reader)
    elif "content-length" in fields:
        length = int(fields["content-length"])
        body = reader.read(length)
        if len(body) != length:
            raise ValueError(f"the body ends after {len(body)} of {length} bytes")
    else:
        body, close = reader.read(), True
    return status, headers, body, close


def read_chunked(reader: BinaryIO) -> bytes:
    parts = []
    while True:
        size = int(reader.readline(LINE_LIMIT + 1).split(b";")[0], 16)
        if size == 0:
            while reader.readline(LINE_LIMIT + 1) not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(parts)
        chunk = reader.read(size + 2)
        if len(chunk) != size + 2:
            raise ValueError("a chunk ends early")
        parts.append(chunk[:-2])


def one_tablet(url: str, device: str) -> tuple[float | None, str | None]:
    """One complete walk on the enrolled tablet `device`; the submit's seconds, or None and
    what went wrong."""
    client = KeptTablet([url], timeout=60, device=device)
    try:
        client.prepare(submission_for(unique_token()))
        answer, seconds = client.submit()
        location = answer.header("Location") or ""
        if answer.status != 302 or not location.endswith("/tablet/done"):
            return seconds, f"submit answered {answer.status} to {location!r}"
        done = client.request("GET", "/tablet/done")
        if done.status != 200:
            return seconds, f"done page answered {done.status}"
        return seconds, None
    except (AssertionError, NoAnswer) as error:
        return None, f"{type(error).__name__}: {error}"[:300]
    finally:
        client.close()


def one_round(server: GunicornServer, workers: list[int], count: int, devices: list[str]) -> Round:
    clients = len(devices)
    cpu_before = sum(cpu_seconds(pid) for pid in workers)
    client_before = own_cpu()
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients, thread_name_prefix="tablet") as pool:
        results = list(
            pool.map(lambda n: one_tablet(server.url, devices[n % clients]), range(count))
        )
    seconds = time.perf_counter() - started
    return Round(
        seconds=seconds,
        latencies=[s for s, _ in results if s is not None],
        errors=[e for _, e in results if e is not None],
        rss_kb={pid: status_kb(pid, "VmRSS") for pid in workers},
        server_cpu=sum(cpu_seconds(pid) for pid in workers) - cpu_before,
        client_cpu=own_cpu() - client_before,
    )


def archived_counts(env: dict[str, str]) -> dict[str, int]:
    """What the archive holds, by status, read with the app's own code."""
    from intake.archive.service import Archive
    from intake.config import Config
    from intake.definition import FormCatalog

    config = Config(env)
    archive = Archive(config.archive_settings(), FormCatalog(config.FORMS_DIR))
    try:
        return dict(archive.counts())
    finally:
        archive.dispose()


def measure(rounds: int, per_round: int, clients: int, threads: int, workers: int = WORKERS) -> Run:
    run = Run()
    with tempfile.TemporaryDirectory(prefix="intake-bench-e2e-") as folder:
        env = app_env(Path(folder))
        upgrade = intake_command(env, "db", "upgrade")
        if upgrade.returncode != 0:
            raise SystemExit(f"intake db upgrade failed:\n{upgrade.stdout}{upgrade.stderr}")
        server = GunicornServer(
            env, Path(folder) / "logs", name="bench", workers=workers, threads=threads,
            deployed=True,
        )  # fmt: skip
        server.start()
        try:
            assert server.process is not None
            count = workers
            workers = children(server.process.pid)
            if len(workers) != count:
                raise SystemExit(f"expected {count} workers, found {workers}")
            # Both workers up and idle (the start waits for /healthz from one of them).
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not all(
                status_kb(pid, "VmRSS") > 50_000 for pid in workers
            ):
                time.sleep(0.2)
            time.sleep(1)
            run.start_rss_kb = {pid: status_kb(pid, "VmRSS") for pid in workers}
            start_hwm = {pid: status_kb(pid, "VmHWM") for pid in workers}
            reset = all(reset_hwm(pid) for pid in workers)
            devices = enrolled_tokens(env, clients)
            for number in range(1, rounds + 1):
                result = one_round(server, workers, per_round, devices)
                run.rounds.append(result)
                lat = sorted(result.latencies)
                print(
                    f"e2e: round {number:>2}: {per_round} consents in {result.seconds:5.1f} s = "
                    f"{result.rate:5.1f}/s; submit p50 {percentile(lat, 0.5) * 1000:4.0f} ms, "
                    f"p95 {percentile(lat, 0.95) * 1000:4.0f} ms; worker RSS "
                    + " / ".join(f"{kb / 1024:.0f}" for kb in result.rss_kb.values())
                    + " MB"
                    + (
                        f"; {len(result.errors)} FAILED: {result.errors[0]}"
                        if result.errors
                        else ""
                    )
                )
            if reset:
                load_hwm = {pid: status_kb(pid, "VmHWM") for pid in workers}
            run.alone = one_round(server, workers, ALONE, devices[:1])
            lat = sorted(run.alone.latencies)
            print(
                f"e2e: then {ALONE} consents from one tablet at a time: submit p50 "
                f"{percentile(lat, 0.5) * 1000:.0f} ms, p95 {percentile(lat, 0.95) * 1000:.0f} ms"
            )
            if children(server.process.pid) != workers:
                raise SystemExit("a worker was replaced during the run (crash or timeout)")
            if reset:
                run.load_hwm_kb = load_hwm
                run.hwm_kb = {pid: max(start_hwm[pid], run.load_hwm_kb[pid]) for pid in workers}
            else:
                run.hwm_kb = {pid: status_kb(pid, "VmHWM") for pid in workers}
        finally:
            server.stop()
        run.archived = archived_counts(env)
    return run


def figures(
    run: Run, per_round: int, clients: int, threads: int, workers: int = WORKERS
) -> list[Figure]:
    total = per_round * len(run.rounds)
    errors = sum(len(r.errors) for r in run.rounds)
    alone = run.alone
    assert alone is not None
    errors += len(alone.errors)
    rate = median(r.rate for r in run.rounds)
    p50 = median(percentile(r.latencies, 0.5) for r in run.rounds) * 1000
    p95 = median(percentile(r.latencies, 0.95) for r in run.rounds) * 1000
    server_cpu = sum(r.server_cpu for r in run.rounds) / total * 1000
    client_cpu = sum(r.client_cpu for r in run.rounds) / total * 1000
    cores = os.cpu_count() or 1
    ceiling = cores * 1000 / (server_cpu + client_cpu)
    complete = errors == 0 and run.archived == {"archived": total + ALONE}
    where = (
        f"intake serve: {workers} workers x {threads} threads, {clients} clients, "
        f"{len(run.rounds)} rounds of {per_round}"
    )
    first = {pid: kb for pid, kb in run.rounds[0].rss_kb.items()}
    last = {pid: kb for pid, kb in run.rounds[-1].rss_kb.items()}
    growth = max((last[pid] - first[pid]) / first[pid] for pid in first)
    peak = max(run.hwm_kb.values()) / 1024
    result = [
        Figure(
            "3 end to end", "consents/s (whole walks: 13 requests, welcome to done)",
            f"{rate:.1f}", f">= {RATE_TARGET}", rate >= RATE_TARGET, where,
        ),
        Figure("3 end to end", "submit POST -> answer (sealed, archived), p50 ms", f"{p50:.0f}"),
        Figure(
            "3 end to end", "submit POST -> answer (sealed, archived), p95 ms", f"{p95:.0f}",
            f"< {P95_TARGET_MS}", p95 < P95_TARGET_MS,
        ),
        Figure(
            "3 end to end", "submit p50 / p95 ms, one tablet at a time (no queue)",
            f"{percentile(alone.latencies, 0.5) * 1000:.0f} / "
            f"{percentile(alone.latencies, 0.95) * 1000:.0f}",
            note=f"{ALONE} consents after the rounds",
        ),
        Figure(
            "3 end to end", "consents archived / submitted, errors",
            f"{run.archived.get('archived', 0)}/{total + ALONE}, {errors}", "all, 0", complete,
        ),
        Figure(
            "3 end to end", "CPU ms per consent: server workers / load generator",
            f"{server_cpu:.0f} / {client_cpu:.0f}",
        ),
        Figure(
            "3 end to end", f"ceiling: {cores} cores / CPU per consent (consents/s)",
            f"{ceiling:.1f}", note="what the CPU allows, the machine otherwise idle",
        ),
        Figure(
            "5 memory", f"peak RSS (VmHWM) of a worker after {total:,} consents (MB)",
            f"{peak:.0f}", f"< {HWM_TARGET_MB}", peak < HWM_TARGET_MB,
            "workers: " + " / ".join(f"{kb / 1024:.0f}" for kb in run.hwm_kb.values()),
        ),
        *(
            [
                Figure(
                    "5 memory", "peak RSS of a worker during the consents alone (MB)",
                    f"{max(run.load_hwm_kb.values()) / 1024:.0f}",
                    note="VmHWM reset after start: "
                    + " / ".join(f"{kb / 1024:.0f}" for kb in run.load_hwm_kb.values()),
                )
            ]
            if run.load_hwm_kb
            else []
        ),
        Figure(
            "5 memory", f"RSS after the first {per_round} -> after the last {per_round} (MB)",
            " / ".join(f"{first[p] / 1024:.0f}->{last[p] / 1024:.0f}" for p in first),
            f"growth <= {GROWTH_TOLERANCE:.0%}", growth <= GROWTH_TOLERANCE,
            f"largest growth {growth:+.1%}; at start "
            + " / ".join(f"{kb / 1024:.0f}" for kb in run.start_rss_kb.values()),
        ),
    ]  # fmt: skip
    return result


def run(
    rounds: int = ROUNDS,
    per_round: int = PER_ROUND,
    clients: int = CLIENTS,
    threads: int = THREADS,
    workers: int = WORKERS,
) -> list[Figure]:
    started = time.perf_counter()
    result = measure(rounds, per_round, clients, threads, workers)
    print(f"e2e: {rounds * per_round:,} consents in {time.perf_counter() - started:.0f} s in all")
    return figures(result, per_round, clients, threads, workers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--per-round", type=int, default=PER_ROUND)
    parser.add_argument("--clients", type=int, default=CLIENTS)
    parser.add_argument("--threads", type=int, default=THREADS, help="per gthread worker")
    parser.add_argument("--workers", type=int, default=WORKERS, help="gunicorn worker processes")
    args = parser.parse_args()
    if args.rounds < 2:
        parser.error("at least 2 rounds: the memory figure compares the first and the last")
    print_table(run(args.rounds, args.per_round, args.clients, args.threads, args.workers))


if __name__ == "__main__":
    main()
