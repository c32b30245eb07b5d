"""The app under gunicorn on loopback, and a stdlib HTTP client that walks the tablet for real.

A plain helper module for the load and crash tests (no fixtures here):

- `GunicornServer`: starts `gunicorn app:app` (or, `deployed=True`, `intake serve`) as a
  subprocess in its own process group on 127.0.0.1 and a free port, with the app's settings
  in its environment; waits for `/healthz`; writes gunicorn's access and error log (info
  level) to a file; stops it (SIGTERM to the whole group, then SIGKILL) or kills it outright
  (`kill()`: SIGKILL to master and workers at once).
- `intake_command`: runs `.venv/bin/intake` with the same settings (`db upgrade`, `archive repair`).
- `TabletClient`: one tablet (one session cookie) speaking HTTP through `http.client`, a fresh
  connection per request, never following redirects by itself. `prepare()` walks a submission
  from the welcome page to the review page, reading each page's CSRF token and the review
  page's submit token as a browser would; `submit()` posts it and times the answer.
- `submission_for(name)`: the demo submission with a unique patient name (and email).
- `archive_of(env)`: the archive a test server writes, opened from the test.
- `enrolled_tokens(env, n)`: n tablets enrolled in that archive, for `TabletClient(device=...)`.

Every wait has a timeout; only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import secrets
import signal
import socket
import string
import subprocess
import sys
import time
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from intake.archive.service import Archive
from intake.config import PROJECT_ROOT, Config
from intake.definition import FormCatalog
from intake.tablet.devices import COOKIE
from tests.support.app import B12, FORMS_DIR, demo_submission
from tests.support.devices import enrol
from tests.support.tablet import csrf_token, step_fields

VENV_BIN = Path(sys.executable).parent
GUNICORN = VENV_BIN / "gunicorn"
INTAKE = VENV_BIN / "intake"
HOST = "127.0.0.1"

#: Every setting `intake/config.py` reads: dropped from the inherited environment so that a
#: developer's own settings never leak into a test server.
APP_SETTINGS = tuple(Config({}).as_dict())


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def server_env(settings: Mapping[str, str | Path]) -> dict[str, str]:
    """The inherited environment without any app setting, plus `settings`."""
    env = {k: v for k, v in os.environ.items() if k not in APP_SETTINGS}
    env.update({k: str(v) for k, v in settings.items()})
    env["PYTHONUNBUFFERED"] = "1"
    return env


#: Every test tablet speaks from 127.0.0.1, and a load test walks hundreds of patients a minute:
#: the per-tablet and per-address limits (a real front desk's, tested on their own in
#: tests/test_tablet_devices.py) are raised for these servers; enrolment stays required.
LOAD_LIMITS = {
    name: "100000"
    for name in (
        "TABLET_SESSIONS_PER_MINUTE",
        "ADDRESS_SESSIONS_PER_MINUTE",
        "TABLET_SUBMITS_PER_MINUTE",
        "ADDRESS_SUBMITS_PER_MINUTE",
    )
}


def app_env(folder: Path, **overrides: str | Path) -> dict[str, str]:
    """Settings for one app server whose own files (instance folder) are under `folder`."""
    instance = folder / "instance"
    return {
        "SECRET_KEY": "load-test-secret",
        "INSTANCE_PATH": str(instance),
        "FORMS_DIR": str(FORMS_DIR),
        "DATABASE_URL": f"sqlite:///{instance}/archive.sqlite3",
        "STORAGE": "files",
        **LOAD_LIMITS,
        # Every simulated tablet comes from 127.0.0.1: the per-address cap on live drafts is
        # set past what a load run opens (the flood test sets its own).
        "DRAFTS_PER_TABLET": "100000",
        **{k: str(v) for k, v in overrides.items()},
    }


def intake_command(
    settings: Mapping[str, str | Path], *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`intake <args>` on the archive `settings` name, as an operator would run it."""
    return subprocess.run(
        [str(INTAKE), *args],
        env=server_env(settings),
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class GunicornServer:
    """`gunicorn app:app` on 127.0.0.1, in a process group of its own."""

    def __init__(
        self,
        settings: Mapping[str, str | Path],
        log_dir: Path,
        *,
        name: str = "server",
        workers: int = 2,
        worker_class: str = "gthread",
        threads: int = 4,
        port: int | None = None,
        deployed: bool = False,
    ) -> None:
        self.settings = dict(settings)
        #: Run `intake serve` (gthread workers always) instead of `gunicorn app:app`.
        self.deployed = deployed
        self.log_dir = Path(log_dir)
        self.name = name
        self.workers = workers
        self.worker_class = worker_class
        self.threads = threads
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        #: One log file per start: a restarted server's log does not overwrite the first.
        self.logs: list[Path] = []

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def command(self) -> list[str]:
        if self.deployed:
            # `intake serve`: gunicorn with the deployment's own settings (its worker and
            # logger classes, its collector setup), only the address and the counts given.
            return [
                str(INTAKE), "serve", "--host", HOST, "--port", str(self.port),
                "--workers", str(self.workers), "--threads", str(self.threads),
            ]  # fmt: skip
        command = [
            str(GUNICORN),
            "--bind", f"{HOST}:{self.port}",
            "--workers", str(self.workers),
            "--worker-class", self.worker_class,
            "--access-logfile", "-",
            "--error-logfile", "-",
            "--log-level", "info",
            "--timeout", "60",
            "--graceful-timeout", "10",
            # Not the default ~/.gunicorn/gunicorn.ctl: two servers would share one, and a test
            # writes nothing outside its own folders.
            "--no-control-socket",
        ]  # fmt: skip
        if self.worker_class == "gthread":
            command += ["--threads", str(self.threads)]
        return [*command, "app:app"]

    def start(self, timeout: float = 60) -> GunicornServer:
        """Start, and return once `/healthz` answers (every worker then runs the app)."""
        assert self.process is None or self.process.poll() is not None, "already running"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{self.name}-{len(self.logs) + 1}.log"
        self.logs.append(log_path)
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                self.command(),
                cwd=PROJECT_ROOT,
                env=server_env(self.settings),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: killpg reaches every worker
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode} on start:\n"
                    + self.log_tail()
                )
            if self._healthy():
                return self
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(
                    f"{self.name} did not answer /healthz in {timeout} s:\n" + self.log_tail()
                )
            time.sleep(0.1)

    def _healthy(self) -> bool:
        try:
            connection = http.client.HTTPConnection(HOST, self.port, timeout=2)
            try:
                connection.request("GET", "/healthz")
                return connection.getresponse().status == 200
            finally:
                connection.close()
        except OSError:
            return False

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _signal_group(self, sig: int) -> None:
        """Signal the master and its workers (the group id is the master's pid). Once the
        master is reaped and no member is left, the id is free for reuse: nothing is sent."""
        assert self.process is not None
        if self.process.returncode is not None and not live_group_members(self.process.pid):
            return
        try:
            os.killpg(self.process.pid, sig)
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        """SIGKILL to the master and every worker at once, as a power cut would stop them."""
        if self.process is None:
            return
        self._signal_group(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self, timeout: float = 15) -> None:
        """Graceful stop (SIGTERM to the group); SIGKILL when it takes longer than `timeout`,
        and to workers a master that died first left behind."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        self._signal_group(signal.SIGKILL)
        self.process.wait(timeout=10)

    def log_text(self) -> str:
        return "".join(
            path.read_text(encoding="utf-8", errors="replace")
            for path in self.logs
            if path.exists()
        )

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:]) or "(empty log)"


def live_group_members(pgid: int) -> list[int]:
    """The processes of a process group that still run (zombies aside)."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry))
    return members


# --- the tablet, over HTTP ---------------------------------------------------------------------


def unique_token(length: int = 10) -> str:
    """Letters only (so it survives URL, JSON and log encodings unchanged), capitalised."""
    letters = "".join(secrets.choice(string.ascii_lowercase) for _ in range(length))
    return "Q" + letters


def submission_for(surname: str) -> dict[str, Any]:
    """The demo submission for a patient named "Zoë <surname>" (email made unique too)."""
    data = demo_submission()
    name = f"Zoë {surname}"
    data["patient"]["legal_name"] = name
    data["patient"]["preferred_name"] = ""
    data["patient"]["email"] = f"{surname.lower()}@example.org"
    data["signature"]["typed_name"] = name
    return data


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: str

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


class NoAnswer(Exception):
    """The server gave no complete answer (refused, reset, closed, timed out)."""


@dataclass
class Hit:
    method: str
    path: str
    server: str
    status: int | None  # None: no answer


@dataclass
class TabletClient:
    """One tablet: a session cookie and a list of servers to talk to.

    `alternate=True` sends each request to the next server in turn (so every step of one
    patient's walk crosses servers); otherwise every request goes to `servers[home]`.
    """

    servers: list[str]
    home: int = 0
    alternate: bool = False
    timeout: float = 30
    cookies: dict[str, str] = field(default_factory=dict)
    set_cookies: list[str] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    submit_token: str | None = None
    submit_csrf: str | None = None
    #: The enrolled tablet's token (`enrolled_tokens`), sent as its device cookie.
    device: str | None = None
    _turn: int = 0

    def __post_init__(self) -> None:
        if self.device:
            self.cookies[COOKIE] = self.device

    def _server(self) -> str:
        if not self.alternate:
            return self.servers[self.home % len(self.servers)]
        server = self.servers[(self.home + self._turn) % len(self.servers)]
        self._turn += 1
        return server

    def request(
        self,
        method: str,
        path: str,
        fields: Mapping[str, str] | None = None,
        *,
        multipart: bool = False,
    ) -> Answer:
        """One request; `fields` are sent form-encoded, or as multipart/form-data."""
        server = self._server()
        host, port = server.removeprefix("http://").rsplit(":", 1)
        assert host == HOST, "loopback only"
        headers = {"User-Agent": "intake-load-test", "Connection": "close"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if fields is not None and multipart:
            body, headers["Content-Type"] = multipart_body(fields)
        elif fields is not None:
            body = urlencode(fields).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection = http.client.HTTPConnection(host, int(port), timeout=self.timeout)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            text = response.read().decode("utf-8", errors="replace")
        except (OSError, http.client.HTTPException) as exc:
            self.hits.append(Hit(method, path, server, None))
            raise NoAnswer(f"{method} {path} on {server}: {exc!r}") from exc
        finally:
            connection.close()
        answer = Answer(response.status, response.getheaders(), text)
        self.hits.append(Hit(method, path, server, response.status))
        self._keep_cookies(answer.headers)
        return answer

    def _keep_cookies(self, headers: list[tuple[str, str]]) -> None:
        """Keep what each Set-Cookie header sets, and drop what it expires, as a browser does."""
        for name, value in headers:
            if name.lower() == "set-cookie":
                self.set_cookies.append(value)
                morsel = SimpleCookie()
                morsel.load(value)
                for key, item in morsel.items():
                    if item.value and item["expires"] != "Thu, 01 Jan 1970 00:00:00 GMT":
                        self.cookies[key] = item.value
                    else:
                        self.cookies.pop(key, None)

    def _page(self, path: str) -> Answer:
        page = self.request("GET", path)
        if page.status != 200:
            raise AssertionError(f"GET {path}: {page.status}\n{page.body[:500]}")
        return page

    def _post_step(self, path: str, fields: Mapping[str, str], expect: str) -> None:
        page = self._page(path)
        answer = self.request("POST", path, {"csrf_token": csrf_token(page.body), **fields})
        location = answer.header("Location") or ""
        if answer.status != 302 or not location.endswith(expect):
            raise AssertionError(
                f"POST {path}: {answer.status} to {location!r}, expected {expect}\n"
                f"{answer.body[:500]}"
            )

    def prepare(self, data: dict[str, Any], form_id: str = B12) -> None:
        """Welcome, the four steps, and the review page: ready to submit."""
        steps = step_fields(data)
        order = [*steps, "review"]
        self._post_step(f"/tablet/form/{form_id}", {}, "/tablet/details")
        for step, after in zip(steps, order[1:], strict=False):
            self._post_step(f"/tablet/{step}", steps[step], f"/tablet/{after}")
        review = self._page("/tablet/review")
        match = re.search(r'name="submit_token" type="hidden" value="([^"]+)"', review.body)
        assert match, "no submit token on the review page"
        self.submit_token = match.group(1)
        self.submit_csrf = csrf_token(review.body)

    def submit(self) -> tuple[Answer, float]:
        """POST /tablet/submit with the review page's tokens; the answer and its seconds."""
        assert self.submit_token and self.submit_csrf, "prepare() first"
        fields = {"csrf_token": self.submit_csrf, "submit_token": self.submit_token}
        started = time.perf_counter()
        answer = self.request("POST", "/tablet/submit", fields)
        return answer, time.perf_counter() - started

    def session_payload(self) -> list[str]:
        """Every Set-Cookie value, decoded as far as it goes (Flask's signed session is
        base64 JSON, zlib-compressed when it starts with a dot)."""
        return [value + "\n" + decode_session(value) for value in self.set_cookies]

    def session_data(self) -> dict[str, Any]:
        """What the session cookie holds now (unverified: the test only reads it)."""
        return json.loads(session_text(self.cookies.get("session", "")) or "{}")


def session_text(value: str) -> str:
    """The payload of a Flask session cookie value, as text ("" if it is not one)."""
    compressed = value.startswith(".")
    payload = value.lstrip(".").split(".", 1)[0]
    try:
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        if compressed:
            raw = zlib.decompress(raw)
        return raw.decode("utf-8", errors="replace")
    except (ValueError, zlib.error):
        return ""


def decode_session(set_cookie: str) -> str:
    """Every cookie of one Set-Cookie header, decoded as a Flask session."""
    morsel = SimpleCookie()
    morsel.load(set_cookie)
    return "\n".join(session_text(item.value) for item in morsel.values())


def percentile(values: Iterable[float], fraction: float) -> float:
    """The nearest-rank percentile of `values` (fraction 0.5 for the median)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * fraction // 1))  # ceil
    return ordered[int(rank) - 1]


# --- the server's archive ------------------------------------------------------------------------


def multipart_body(fields: Mapping[str, str]) -> tuple[bytes, str]:
    """`fields` as a multipart/form-data body, and its Content-Type."""
    boundary = secrets.token_hex(16)
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields.items()
    ]
    body = ("".join(parts) + f"--{boundary}--\r\n").encode()
    return body, f"multipart/form-data; boundary={boundary}"


def archive_of(env: dict[str, str]) -> Archive:
    """The archive a test server with these settings writes, opened from the test."""
    return Archive(Config(env).archive_settings(), FormCatalog(FORMS_DIR))


def enrolled_tokens(env: dict[str, str], count: int) -> list[str]:
    """`count` tablets enrolled in the archive of a server with these settings (through the
    tablets service, as the staff page's code would); their tokens, for `TabletClient.device`."""
    archive = archive_of(env)
    try:
        return [enrol(archive, f"Test tablet {number}") for number in range(1, count + 1)]
    finally:
        archive.dispose()


def show(capsys: pytest.CaptureFixture[str], text: str) -> None:
    """Print a run's figures past pytest's capture, as the test runs."""
    with capsys.disabled():
        print(text, flush=True)


class IntakeServe:
    """`intake serve` in a process group of its own, its terminal and log in one file."""

    def __init__(self, settings: Mapping[str, str | Path], log: Path, *args: str) -> None:
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.log = log
        with open(log, "wb") as out:
            self.process = subprocess.Popen(
                [str(INTAKE), "serve", "--host", HOST, "--port", str(self.port), *args],
                cwd=PROJECT_ROOT,
                env=server_env(settings),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, timeout: float = 60) -> IntakeServe:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if TabletClient([self.url], timeout=2).request("GET", "/healthz").status == 200:
                    return self
            except NoAnswer:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"intake serve did not start:\n{self.log.read_text()}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
