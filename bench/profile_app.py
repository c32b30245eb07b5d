"""Where a consent's server time goes: the app in this process, walked like a tablet, profiled.

The app made by `create_app()` from the same settings `bench_e2e.py` gives gunicorn (a fresh
instance folder, SQLite, `STORAGE=files`), driven through Flask's test client one consent after
another (no HTTP server, no concurrency): the same 13 requests per consent. First the CPU
milliseconds each kind of request takes (median over the consents, no profiler running), then
as many consents again under pyinstrument: the call tree of the submits alone (or of every
request with `--all`), and the functions that spend the most time themselves.

    .venv/bin/python -m bench.profile_app [--consents 50] [--all | --no-profile]
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from pyinstrument import Profiler

from bench.measure import median
from intake import create_app
from intake.archive.migrate import upgrade
from tests.support.app import B12
from tests.support.devices import enrol, give_cookie
from tests.support.serving import app_env, submission_for, unique_token
from tests.support.tablet import csrf_token, step_fields

SUBMIT = "POST /tablet/submit"


class Walker:
    """One tablet on the test client, timing every request's CPU seconds by kind."""

    def __init__(self, app, profiler: Profiler, profile_all: bool) -> None:
        self.app = app
        self.profiler = profiler
        self.profile_all = profile_all
        self.profiling = False
        self.cpu: dict[str, list[float]] = defaultdict(list)
        self.wall: dict[str, list[float]] = defaultdict(list)
        #: The walks run on one enrolled tablet (app_env's limits leave it unthrottled).
        self.device = enrol(app.extensions["archive"], "Profiled tablet")

    def _request(self, client, method: str, path: str, data=None):
        label = f"{method} {path}"
        profiled = self.profiling and (self.profile_all or label == SUBMIT)
        if profiled:
            self.profiler.start()
        started = time.thread_time()
        wall = time.perf_counter()
        response = client.open(path, method=method, data=data)
        self.cpu[label].append(time.thread_time() - started)
        self.wall[label].append(time.perf_counter() - wall)
        if profiled:
            self.profiler.stop()
        return response

    def _step(self, client, path: str, fields: dict[str, str]) -> None:
        page = self._request(client, "GET", path)
        answer = self._request(
            client, "POST", path, {"csrf_token": csrf_token(page.text), **fields}
        )
        assert answer.status_code == 302, (path, answer.status_code, answer.text[:300])

    def consent(self) -> None:
        client = self.app.test_client()
        give_cookie(client, self.device)
        steps = step_fields(submission_for(unique_token()))
        self._step(client, f"/tablet/form/{B12}", {})
        for step, fields in steps.items():
            self._step(client, f"/tablet/{step}", fields)
        review = self._request(client, "GET", "/tablet/review")
        token = re.search(r'name="submit_token" type="hidden" value="([^"]+)"', review.text)
        assert token, "no submit token"
        fields = {"csrf_token": csrf_token(review.text), "submit_token": token.group(1)}
        answer = self._request(client, "POST", "/tablet/submit", fields)
        assert answer.status_code == 302, answer.text[:300]
        assert self._request(client, "GET", "/tablet/done").status_code == 200


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--consents", type=int, default=50)
    parser.add_argument("--all", action="store_true", help="profile every request, not submits")
    parser.add_argument(
        "--no-profile", action="store_true", help="only the CPU table, no profiled consents"
    )
    args = parser.parse_args()
    logging.getLogger("intake.certificates").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="intake-bench-profile-") as folder:
        os.environ.update(app_env(Path(folder)))
        upgrade(os.environ["DATABASE_URL"])
        app = create_app()
        profiler = Profiler(interval=0.0005)
        walker = Walker(app, profiler, args.all)
        walker.consent()  # warm: certificate made, fonts registered, templates compiled
        walker.cpu.clear()
        started = time.perf_counter()
        for _ in range(args.consents):
            walker.consent()
        seconds = time.perf_counter() - started
        timings = {label: list(values) for label, values in walker.cpu.items()}
        walls = {label: list(values) for label, values in walker.wall.items()}
        walker.profiling = not args.no_profile
        for _ in range(0 if args.no_profile else args.consents):
            walker.consent()
        app.extensions["archive"].dispose()
    total = sum(median(v) for v in timings.values()) * 1000
    print(
        f"{args.consents} consents in {seconds:.1f} s, one at a time, in this process; CPU: the "
        "request's own thread (time.thread_time); wall: until the response"
    )
    print(f"{'request (medians)':<38}{'CPU ms':>8}{'share':>7}{'wall ms':>9}")
    for label, values in sorted(timings.items(), key=lambda kv: -median(kv[1])):
        ms = median(values) * 1000
        print(f"{label:<38}{ms:>8.1f}{ms / total:>7.0%}{median(walls[label]) * 1000:>9.1f}")
    wall = sum(median(v) for v in walls.values()) * 1000
    print(f"{'one consent, all 13 requests':<38}{total:>8.1f}{'':>7}{wall:>9.1f}")
    others = total - median(timings[SUBMIT]) * 1000
    print(f"{'the twelve other than the submit':<38}{others:>8.1f}")
    if args.no_profile:
        return
    what = "every request" if args.all else "the submits"
    print(f"\npyinstrument, {what}: call tree")
    print(profiler.output_text(unicode=False, color=False, time="percent_of_total"))
    print(f"pyinstrument, {what}: functions by their own time")
    flat = profiler.output_text(unicode=False, color=False, flat=True, time="percent_of_total")
    print("\n".join(flat.splitlines()[:40]))


if __name__ == "__main__":
    main()
