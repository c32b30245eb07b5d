"""A task run in a background thread: one run at a time, and at most one start per interval."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class BackgroundRun:
    """Starts `task` in a daemon thread on request, unless a run is still going or the last
    one started less than the asked interval ago; nobody waits for it but `wait`."""

    def __init__(self, task: Callable[[], None], name: str) -> None:
        self.task = task
        self.name = name
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._started: float | None = None

    def start(self, *, min_interval: float = 0) -> bool:
        """True when a run was started."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return False
            now = time.monotonic()
            if self._started is not None and now - self._started < min_interval:
                return False
            self._started = now
            self._thread = threading.Thread(target=self.task, name=self.name, daemon=True)
            self._thread.start()
            return True

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the run in progress, if any, to end."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
