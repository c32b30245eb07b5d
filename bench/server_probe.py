"""A gunicorn config module that measures a worker from inside (`-c python:bench.server_probe`).

For `bench/bench_server.py`, never for a deployment. Per worker, from the moment its app is
made to its exit:

- `cpu`: the worker's own CPU seconds (rusage), and `requests_cpu`: the thread CPU seconds from
  `pre_request` to `post_request` (the app, the response, the access log) of every request
  but `/healthz` (the bench's floor, measured apart): the difference is gunicorn's loop
  (accept, poll, the request's parsing, keep-alive, the heartbeat);
- `gc`: seconds and passes of the garbage collector, by generation (`gc.callbacks`);
- `lock_wait`: seconds spent in `BEGIN IMMEDIATE` (waiting for SQLite's write lock) and the
  longest single wait; `commit` and `fsync` seconds.

`PROBE_OUT` names the file prefix each worker writes its JSON to (`<prefix>.<pid>`).
`PROBE_GC=unfrozen` undoes `settle_for_serving` (the collector as before it);
`PROBE_BEGIN=deferred` begins every transaction with a plain `BEGIN` instead of `BEGIN
IMMEDIATE`, to measure what the write lock's queue costs (not safe for writes in general).
"""

from __future__ import annotations

import gc
import json
import os
import resource
import threading
import time
from typing import Any

from sqlalchemy import event

_local = threading.local()
_gc_started = [0.0]
figures: dict[str, Any] = {
    "cpu": 0.0,
    "requests_cpu": 0.0,
    "requests": 0,
    "gc_seconds": [0.0, 0.0, 0.0],
    "gc_passes": [0, 0, 0],
    "lock_wait": 0.0,
    "lock_wait_max": 0.0,
    "begins": 0,
    "commit": 0.0,
    "commits": 0,
    "fsync": 0.0,
}


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _on_gc(phase: str, info: dict[str, int]) -> None:
    if phase == "start":
        _gc_started[0] = time.perf_counter()
        return
    generation = info["generation"]
    figures["gc_seconds"][generation] += time.perf_counter() - _gc_started[0]
    figures["gc_passes"][generation] += 1


def _timed(name: str, call: Any) -> Any:
    def timed(*args: Any) -> Any:
        started = time.perf_counter()
        try:
            return call(*args)
        finally:
            figures[name] += time.perf_counter() - started

    return timed


def _watch_engine(engine: Any) -> None:
    @event.listens_for(engine, "before_cursor_execute", retval=True)
    def before(conn, cursor, statement, parameters, context, many):  # noqa: ANN001, ANN202
        _local.started = time.perf_counter()
        if statement == "BEGIN IMMEDIATE" and os.environ.get("PROBE_BEGIN") == "deferred":
            return "BEGIN", parameters
        return statement, parameters

    @event.listens_for(engine, "after_cursor_execute")
    def after(conn, cursor, statement, parameters, context, many) -> None:  # noqa: ANN001
        if statement.startswith("BEGIN"):
            waited = time.perf_counter() - _local.started
            figures["lock_wait"] += waited
            figures["lock_wait_max"] = max(figures["lock_wait_max"], waited)
            figures["begins"] += 1

    commit = engine.dialect.do_commit

    def do_commit(dbapi_connection: Any) -> None:
        figures["commits"] += 1
        _timed("commit", commit)(dbapi_connection)

    engine.dialect.do_commit = do_commit


def post_worker_init(worker: Any) -> None:
    if os.environ.get("PROBE_GC") == "unfrozen":
        gc.unfreeze()
    gc.callbacks.append(_on_gc)
    _watch_engine(worker.wsgi.extensions["archive"].engine)
    os.fsync = _timed("fsync", os.fsync)
    figures["cpu"] = -_own_cpu()


def pre_request(worker: Any, request: Any) -> None:
    _local.request_cpu = None if request.path == "/healthz" else time.thread_time()


def post_request(worker: Any, request: Any, environ: Any, response: Any) -> None:
    if _local.request_cpu is not None:
        figures["requests_cpu"] += time.thread_time() - _local.request_cpu
        figures["requests"] += 1


def worker_exit(server: Any, worker: Any) -> None:
    figures["cpu"] += _own_cpu()
    if prefix := os.environ.get("PROBE_OUT"):
        with open(f"{prefix}.{os.getpid()}", "w", encoding="utf-8") as out:
            json.dump(figures, out)
