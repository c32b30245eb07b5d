"""`intake audit verify` at 45,000 and 450,000 audit rows, against reading the table once, in
minutes: the trail is written straight into a fresh archive database, without consents or PDFs.

Each row is one the writer could have made (an event of `audit.EVENTS`, an IP, a user agent, a
target, now and then a staff id), hashed by the writer's own `audit.chained_sha256` and chained
to the row before; `audit_head` ends at the newest. Rows go in a batch at a time (an
executemany on SQLite, `COPY` on PostgreSQL), so 450,000 take seconds, not the hour that
seeding 100,000 sealed consents takes.

Then interleaved rounds: `intake audit verify --quiet` in a process of its own, then the floor
(the audit table read once: `SELECT *` in order, a DB-API cursor a page at a time, in a process
of its own), three times each by default. Each process's CPU time (user + system, from
`wait4`; on PostgreSQL plus the server's, which reads the rows for both), its wall time and
its peak RSS are kept; the figures are the medians, and the ratio is the median of the rounds'
CPU ratios (wall time swings by two on a shared machine).

    .venv/bin/python -m bench.bench_scale --only audit --audit-rows 45000 450000 \\
        [--databases sqlite postgresql] [--rounds 3]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.bench_export import CHILD
from bench.measure import Figure
from intake.archive import audit
from intake.archive.db import make_engine
from intake.archive.migrate import upgrade
from intake.config import Config
from tests.support.app import FORMS_DIR

ROWS = (45_000, 450_000)
ROUNDS = 3
RATIO = 2.0
MEMORY_MB = 200
BATCH = 20_000
#: The floor: the audit table read once, every column of every row, in order.
READ_AUDIT = """
import sys
from sqlalchemy import create_engine
engine = create_engine(sys.argv[1])
with engine.connect() as connection:
    cursor = connection.exec_driver_sql("SELECT * FROM audit_events ORDER BY seq")
    rows = 0
    while page := cursor.fetchmany(5000):
        rows += len(page)
print(rows)
print(next(int(line.split()[1]) for line in open('/proc/self/status') if
           line.startswith('VmHWM:')), file=sys.stderr)
"""

_AGENTS = (
    "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 Chrome/124.0 Safari/537.36",
    "intake command line",
)


def trail_rows(count: int, start: datetime):
    """`count` rows of a trail from its first, each as a tuple in `audit.CHAINED`'s order (the
    time aware, UTC), with the chain's hashes; yields (row, its hash)."""
    prev = audit.GENESIS
    for seq in range(1, count + 1):
        staff = f"{seq % 40:032x}" if seq % 3 else None
        row = (
            seq,
            start + timedelta(seconds=seq * 7, microseconds=seq % 1000 * 997),
            staff,
            f"10.0.{seq % 200}.{seq % 250 + 1}",
            _AGENTS[seq % len(_AGENTS)],
            audit.EVENTS[seq % len(audit.EVENTS)],
            f"{seq * 2654435761 % 2**64:032x}",
            prev,
        )
        prev = audit.chained_sha256(row)
        yield row, prev


def seed_trail(url: str, count: int) -> float:
    """A fresh archive database at `url` (newest schema) whose trail holds `count` chained rows;
    seconds taken."""
    started = time.perf_counter()
    upgrade(url)
    engine = make_engine(url)
    newest, head = 0, audit.GENESIS
    with engine.begin() as connection:
        driver = connection.connection.driver_connection
        postgresql = engine.dialect.name == "postgresql"
        batch: list[tuple] = []
        columns = ", ".join(c.name for c in audit.CHAINED)
        for row, sha256 in trail_rows(count, datetime(2016, 1, 4, 8, 0, tzinfo=UTC)):
            # The time as the archive keeps it: UTC without a zone (`UTCDateTime`).
            batch.append((row[0], row[1].replace(tzinfo=None), *row[2:]))
            newest, head = row[0], sha256
            if len(batch) == BATCH or newest == count:
                if postgresql:
                    with driver.cursor().copy(f"COPY audit_events ({columns}) FROM STDIN") as copy:
                        for values in batch:
                            copy.write_row(values)
                else:
                    driver.executemany(
                        f"INSERT INTO audit_events ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [(r[0], r[1].isoformat(" ", "microseconds"), *r[2:]) for r in batch],
                    )
                batch = []
        connection.exec_driver_sql(
            "UPDATE audit_head SET seq = %s, sha256 = %s WHERE id = 1"
            if postgresql
            else "UPDATE audit_head SET seq = ?, sha256 = ? WHERE id = 1",
            (newest, head),
        )
    engine.dispose()
    return time.perf_counter() - started


@dataclass(frozen=True)
class Run:
    wall: float
    #: The process's own CPU seconds, and the database server's meanwhile (PostgreSQL).
    cpu: float
    rss_mb: float
    stdout: str
    server_cpu: float = 0.0

    @property
    def total(self) -> float:
        return self.cpu + self.server_cpu

    @property
    def on_server(self) -> str:
        return f" + {self.server_cpu:.2f} s on the server" if self.server_cpu else ""


def run_measured(args: list[str], env: dict[str, str]) -> Run:
    """`python ARGS` in a process of its own: its wall and CPU seconds (user + system, from
    `wait4`) and its peak RSS (VmHWM, which the child prints last on stderr)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        child = subprocess.Popen([sys.executable, *args], env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(args[:3])} failed ({child.returncode}):\n{stderr[-2000:]}")
    # Its own peak RSS, which it prints last (`ru_maxrss` counts the forked parent's pages too).
    peak = int(stderr.strip().splitlines()[-1]) / 1024
    return Run(wall, usage.ru_utime + usage.ru_stime, peak, stdout)


def server_cpu(data: Path) -> float:
    """CPU seconds the PostgreSQL server whose data folder is `data` has spent: its postmaster,
    every process it runs now, and every one it ran and reaped (a connection's backend ends
    with its connection, and its time then counts in the postmaster's children's)."""
    postmaster = int((data / "postmaster.pid").read_text().split()[0])
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # a process that ended meanwhile
        pid = int(stat.parent.name)
        if pid == postmaster:
            ticks += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
        elif int(fields[1]) == postmaster:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def measure(
    kind: str, url: str, rows: int, rounds: int, folder: Path, server: Path | None = None
) -> list[Figure]:
    """The rounds on `url`; `server` is a PostgreSQL server's data folder, whose CPU time is
    added to each run's (the server reads the rows for both)."""
    at = f"{kind}, {rows:,} audit rows"
    seeded = seed_trail(url, rows)
    print(f"{at}: seeded in {seeded:.1f} s", flush=True)
    env = {
        **os.environ,
        "INSTANCE_PATH": str(folder / "instance"),
        "FORMS_DIR": str(FORMS_DIR),
        "DATABASE_URL": url,
    }
    env.pop("CI", None)
    command = ["-c", CHILD, "audit", "verify", "--quiet"]
    floor = ["-c", READ_AUDIT, url]
    verifies: list[Run] = []
    floors: list[Run] = []

    def with_server(args: list[str]) -> Run:
        if server is None:
            return run_measured(args, env)
        before = server_cpu(server)
        run = run_measured(args, env)
        time.sleep(0.5)  # the postmaster reaps the ended backend
        return replace(run, server_cpu=server_cpu(server) - before)

    for n in range(rounds):
        verifies.append(with_server(command))
        floors.append(with_server(floor))
        assert floors[-1].stdout.split() == [str(rows)], floors[-1].stdout
        v, f = verifies[-1], floors[-1]
        print(
            f"  round {n + 1}: audit verify {v.cpu:.2f} s CPU{v.on_server} ({v.wall:.2f} s wall, "
            f"{v.rss_mb:.0f} MiB); floor {f.cpu:.2f} s CPU{f.on_server} ({f.wall:.2f} s wall, "
            f"{f.rss_mb:.0f} MiB); ratio {v.total / f.total:.2f}; load {os.getloadavg()[0]:.1f}",
            flush=True,
        )

    def median_ratio(of: Callable[[Run], float]) -> float:
        return statistics.median(of(v) / of(f) for v, f in zip(verifies, floors, strict=True))

    ratio = median_ratio(lambda run: run.total)
    client_ratio, wall_ratio = median_ratio(lambda r: r.cpu), median_ratio(lambda r: r.wall)
    cpu = statistics.median(v.total for v in verifies)
    floor_cpu = statistics.median(f.total for f in floors)
    rss = max(v.rss_mb for v in verifies)
    print(
        f"  median: audit verify {cpu:.2f} s CPU, floor {floor_cpu:.2f} s CPU, ratio {ratio:.2f} "
        f"(client alone {client_ratio:.2f}, wall {wall_ratio:.2f}), peak RSS {rss:.0f} MiB",
        flush=True,
    )
    part = "8 scale"
    return [
        Figure(
            part,
            f"audit verify / reading the audit table once, CPU ({at})",
            f"{ratio:.2f}",
            f"<= {RATIO:g}",
            ratio <= RATIO,
            note=f"{cpu:.2f} s / {floor_cpu:.2f} s CPU"
            + (f" with the server's, client alone {client_ratio:.2f}" if server else "")
            + f", wall {wall_ratio:.2f}; median of {rounds} rounds",
        ),
        Figure(
            part,
            f"audit verify, peak RSS ({at})",
            f"{rss:.0f} MB",
            f"< {MEMORY_MB} MB",
            rss < MEMORY_MB,
        ),
    ]


def run(
    sizes: tuple[int, ...] = ROWS,
    databases: tuple[str, ...] = ("sqlite", "postgresql"),
    rounds: int = ROUNDS,
) -> list[Figure]:
    from bench.pg import throwaway_server

    figures: list[Figure] = []
    for kind in databases:
        for rows in sizes:
            with tempfile.TemporaryDirectory(prefix="bench-audit-verify-") as scratch:
                folder = Path(scratch)
                if kind == "sqlite":
                    url = Config(environ={"INSTANCE_PATH": str(folder / "instance")}).database_url
                    figures += measure(kind, url, rows, rounds, folder)
                    continue
                with throwaway_server() as server:
                    url = server.create_database()
                    figures += measure(kind, url, rows, rounds, folder, server.data)
    return figures
