"""`intake serve`: half-sent requests are dropped after the read timeout, and its access log
shows no one-time token."""

from __future__ import annotations

import gc
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from intake import settle_for_serving
from intake.config import Config
from intake.tablet.drafts import FileDrafts
from tests.support.serving import (
    HOST,
    IntakeServe,
    TabletClient,
    app_env,
    enrolled_tokens,
    intake_command,
    submission_for,
)

HALF_SENT = 24
READ_TIMEOUT = 2
ROUNDS = HALF_SENT // 4


@pytest.fixture
def settings(tmp_path: Path) -> dict[str, str]:
    env = app_env(tmp_path)
    assert intake_command(env, "db", "upgrade").returncode == 0
    return env


@pytest.fixture
def serve(settings, tmp_path: Path) -> Iterator[IntakeServe]:
    server = IntakeServe(
        settings,
        tmp_path / "serve.log",
        "--workers", "2", "--threads", "4", "--read-timeout", str(READ_TIMEOUT),
    )  # fmt: skip
    try:
        yield server.wait_ready()
    finally:
        server.stop()


def half_sent(port: int) -> socket.socket:
    """A connection that sent the start of a request's headers, and then nothing."""
    sock = socket.create_connection((HOST, port), timeout=30)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    return sock


def closed_by_server(sock: socket.socket) -> bool:
    try:
        sock.recv(1024)  # EOF (or an error answer): the server let it go
        return True
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def test_half_sent_requests_are_dropped_and_others_still_answer(serve: IntakeServe):
    socks = [half_sent(serve.port) for _ in range(HALF_SENT)]
    try:
        time.sleep(0.5)  # every thread has taken one
        started = time.monotonic()
        answer = TabletClient([serve.url], timeout=30).request("GET", "/healthz")
        waited = time.monotonic() - started
        assert answer.status == 200
        # 24 held connections, 4 threads a worker: should one worker take all of them, six
        # rounds of the read timeout at most.
        assert waited < ROUNDS * READ_TIMEOUT + 3, waited
        deadline = time.monotonic() + ROUNDS * READ_TIMEOUT + 5
        for sock in socks:
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            assert closed_by_server(sock)
        assert time.monotonic() < deadline
    finally:
        for sock in socks:
            sock.close()
    print(f"\na request behind {HALF_SENT} half-sent ones answered in {waited:.1f} s")


def test_the_access_log_shows_no_token(serve: IntakeServe, settings: dict[str, str]):
    log = serve.log.read_text()
    setup = re.search(r"/staff/setup/(\S{40,})", log)
    assert setup, log
    (device,) = enrolled_tokens(settings, 1)
    tablet = TabletClient([serve.url], device=device)
    assert tablet.request("GET", f"/staff/setup/{setup.group(1)}").status == 200
    tablet.prepare(submission_for("Tokenless"))
    answer, _ = tablet.submit()
    assert answer.status == 302
    assert "phone-copy-qr" in tablet.request("GET", "/tablet/done").body
    # The QR code's link, as the patient's phone opens it.
    config = Config(settings)
    draft = FileDrafts(config.DRAFTS_DIR, 600).get(tablet.session_data()["draft_id"])
    assert draft is not None and draft.copy_token
    phone = TabletClient([serve.url])
    assert phone.request("GET", f"/copy/{draft.copy_token}").status == 200
    time.sleep(0.5)
    access = [line for line in serve.log.read_text().splitlines() if '" 200 ' in line]
    assert any('"GET /copy/<token> HTTP/1.1" 200' in line for line in access), access
    assert any('"GET /staff/setup/<token> HTTP/1.1" 200' in line for line in access), access
    for token in (setup.group(1), draft.copy_token, device):
        assert not [line for line in access if token in line]


def test_a_serving_process_freezes_what_its_app_made(app) -> None:
    """Once a worker's app is made (`intake serve`'s workers, `app.py`), full collections no
    longer walk the app's objects."""
    try:
        settle_for_serving()
        assert gc.get_freeze_count() > 10_000
        tracked = gc.get_objects()
        assert not any(obj is app or obj is app.extensions for obj in tracked)
        # What is made afterwards is still collected.
        assert any(obj is tracked for obj in gc.get_objects())
    finally:
        gc.unfreeze()
