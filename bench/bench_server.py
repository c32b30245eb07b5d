"""The server's own cost: where a consent's CPU goes inside gunicorn, and what its threads wait for.

Each configuration is a fresh `gunicorn app:app` (the app as `app.py` makes it, its workers
frozen by `settle_for_serving`) with `bench/server_probe.py` as its config module, on a fresh
instance folder like `bench_e2e`'s: first `--floor` requests of `GET /healthz` from 20
kept-alive clients (gunicorn's floor a request), then 20 consents to warm up and `--consents`
more from 20 tablets (`bench_e2e`'s walk and checks). The configurations run in turn, `--passes`
times, so that the load of the machine falls on each alike. Per run: consents/s shown, the
workers' CPU a consent (all of it, inside requests, and the rest: gunicorn's loop), the
collector's seconds a consent (full passes, all), the thread time spent waiting for SQLite's
write lock a consent and the longest wait, the workers' peak RSS.

    .venv/bin/python -m bench.bench_server [--passes 2] [--consents 60] [--only deployed,2x1]
"""

from __future__ import annotations

import argparse
import glob
import http.client
import json
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.bench_e2e import children, cpu_seconds, one_round, status_kb
from tests.support.serving import (
    HOST,
    GunicornServer,
    app_env,
    enrolled_tokens,
    intake_command,
    percentile,
)

CLIENTS = 20
WARM = 20
#: name: (workers, threads, the probe's settings)
CONFIGS = {
    "deployed": (2, 2, {}),
    "unfrozen": (2, 2, {"PROBE_GC": "unfrozen"}),
    "2x1": (2, 1, {}),
    "2x4": (2, 4, {}),
    "4x2": (4, 2, {}),
    "deferred": (2, 2, {"PROBE_BEGIN": "deferred"}),
}


class ProbedServer(GunicornServer):
    def command(self) -> list[str]:
        command = super().command()
        return [*command[:-1], "--config", "python:bench.server_probe", command[-1]]


def floor(url: str, workers: list[int], count: int) -> float:
    """The workers' CPU milliseconds a `GET /healthz`, from CLIENTS kept-alive clients."""
    port = int(url.rsplit(":", 1)[1])

    def client(_: int) -> None:
        connection = http.client.HTTPConnection(HOST, port, timeout=30)
        for _ in range(count // CLIENTS):
            connection.request("GET", "/healthz")
            answer = connection.getresponse()
            answer.read()
            assert answer.status == 200
        connection.close()

    before = sum(cpu_seconds(pid) for pid in workers)
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(client, range(CLIENTS)))
    return (sum(cpu_seconds(pid) for pid in workers) - before) / count * 1000


def run_one(name: str, consents: int, floor_requests: int) -> dict:
    workers, threads, probe = CONFIGS[name]
    with tempfile.TemporaryDirectory(prefix="intake-bench-server-") as folder:
        env = app_env(Path(folder), PROBE_OUT=f"{folder}/probe", **probe)
        upgrade = intake_command(env, "db", "upgrade")
        if upgrade.returncode != 0:
            raise SystemExit(f"intake db upgrade failed:\n{upgrade.stderr}")
        server = ProbedServer(env, Path(folder) / "logs", workers=workers, threads=threads)
        server.start()
        try:
            assert server.process is not None
            pids = children(server.process.pid)
            devices = enrolled_tokens(env, CLIENTS)
            floor_ms = floor(server.url, pids, floor_requests) if floor_requests else 0.0
            warm = one_round(server, pids, WARM, devices)
            load = os.getloadavg()[0]
            result = one_round(server, pids, consents, devices)
            hwm = [status_kb(pid, "VmHWM") // 1024 for pid in pids]
        finally:
            server.stop()
        probes = [json.loads(Path(p).read_text()) for p in glob.glob(f"{folder}/probe.*")]
    errors = warm.errors + result.errors
    if errors or len(probes) != workers:
        raise SystemExit(f"{name}: {len(errors)} failed ({errors[:1]}), {len(probes)} probes")
    # The probes count from each worker's start: the floor's requests, the warm-up and the run.
    walked = WARM + consents
    floor_cpu = floor_ms * floor_requests / 1000

    def per_consent(key: str) -> float:
        return sum(p[key] for p in probes) / walked * 1000

    return {
        "name": name,
        "load": load,
        "rate": result.rate,
        "p95": percentile(result.latencies, 0.95) * 1000,
        "cpu": (sum(p["cpu"] for p in probes) - floor_cpu) / walked * 1000,
        "requests_cpu": per_consent("requests_cpu"),
        "gc_full": sum(p["gc_seconds"][2] for p in probes) / walked * 1000,
        "gc_all": sum(sum(p["gc_seconds"]) for p in probes) / walked * 1000,
        "lock_wait": per_consent("lock_wait"),
        "lock_wait_max": max(p["lock_wait_max"] for p in probes),
        "floor": floor_ms,
        "hwm": hwm,
    }


def show(row: dict) -> str:
    return (
        f"{row['name']:>9} load {row['load']:4.1f}: {row['rate']:4.1f} consents/s, p95 "
        f"{row['p95']:5.0f} ms; CPU ms a consent {row['cpu']:5.1f} (requests "
        f"{row['requests_cpu']:5.1f}, gunicorn {row['cpu'] - row['requests_cpu']:4.1f}); "
        f"gc {row['gc_full']:4.1f} full / {row['gc_all']:4.1f} all; lock wait "
        f"{row['lock_wait']:5.0f} ms (longest {row['lock_wait_max']:.2f} s); floor "
        f"{row['floor']:.2f} ms a request; peak RSS " + " / ".join(map(str, row["hwm"])) + " MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--passes", type=int, default=2)
    parser.add_argument("--consents", type=int, default=60)
    parser.add_argument("--floor", type=int, default=2000, help="GET /healthz requests, 0: none")
    parser.add_argument("--only", default=",".join(CONFIGS), help="configurations, in turn")
    args = parser.parse_args()
    names = args.only.split(",")
    for name in names:
        if name not in CONFIGS:
            parser.error(f"--only: {name} is none of {', '.join(CONFIGS)}")
    floor_requests = args.floor - args.floor % CLIENTS
    started = time.perf_counter()
    for number in range(1, args.passes + 1):
        for name in names:
            print(
                f"pass {number}: " + show(run_one(name, args.consents, floor_requests)), flush=True
            )
    print(f"server: {time.perf_counter() - started:.0f} s in all")


if __name__ == "__main__":
    main()
