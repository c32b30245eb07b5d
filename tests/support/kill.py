"""kill -9 in the middle of a burst of requests: the part the kill tests of the check-in and of
the injection record share. Threads send items until half the burst has been answered, then the
whole gunicorn process group is killed; what each request got back is what the test checks."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from tests.support.serving import GunicornServer, NoAnswer, live_group_members


def kill_mid_burst(
    server: GunicornServer,
    items: Sequence[Any],
    send: Callable[[int, Any], Any],
    senders: int,
    timeout: float,
) -> dict[Any, Any]:
    """Send every item from `senders` threads (`send(thread number, item)`), SIGKILL the server
    once half the items were answered (or `timeout` passed), and return the answers by item.
    A request the kill cut off has no answer."""
    answered = threading.Semaphore(0)
    killed = threading.Event()
    answers: dict[Any, Any] = {}
    queue = iter(items)
    lock = threading.Lock()

    def sender(number: int) -> None:
        while not killed.is_set():
            with lock:
                item = next(queue, None)
            if item is None:
                return
            try:
                answers[item] = send(number, item)
            except NoAnswer:
                continue
            answered.release()

    threads = [threading.Thread(target=sender, args=(n,), daemon=True) for n in range(senders)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for _ in range(len(items) // 2):
        if not answered.acquire(timeout=max(0.0, deadline - time.monotonic())):
            break
    killed.set()
    assert server.process is not None
    pgid = server.process.pid
    server.kill()
    for thread in threads:
        thread.join(timeout=timeout)
    deadline = time.monotonic() + 10
    while live_group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not live_group_members(pgid), "a gunicorn process survived SIGKILL"
    return dict(answers)


def restart_until_repaired(server: GunicornServer, pending: Callable[[], int]) -> None:
    """Start the server again and wait for its start-up repair to finish what was pending."""
    server.start()
    deadline = time.monotonic() + 60
    while pending() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert pending() == 0, "the start-up repair left records pending"
