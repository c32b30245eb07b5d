"""A progress bar for the batch commands: counts, rate and time left, on stderr.

Shown only on a terminal: with `--quiet`, when stderr is not a TTY, or under CI (the `CI`
variable set), the command prints exactly what it printed without one.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from intake.progress import NO_PROGRESS, Progress

#: The option every batch command takes.
quiet_option = click.option("--quiet", "-q", is_flag=True, help="Show no progress bar.")

#: The rate shown after the bar (items a second).
RATE = "{rate:,.0f}/s"


def shows_progress(quiet: bool) -> bool:
    """Whether a bar belongs on this stderr."""
    return not quiet and not os.environ.get("CI") and sys.stderr.isatty()


class _Bar:
    def __init__(self, label: str) -> None:
        self.label = label
        self.bar: Any = None
        self.began = time.monotonic()
        self.done = 0

    def start(self, total: int) -> None:
        self.began = time.monotonic()
        self.bar = click.progressbar(
            length=total,
            label=self.label,
            file=sys.stderr,
            show_pos=True,
            show_eta=True,
            item_show_func=self._rate,
        )
        self.bar.__enter__()

    def advance(self, n: int = 1) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(n, self.done)

    def _rate(self, done: int | None) -> str | None:
        elapsed = time.monotonic() - self.began
        return RATE.format(rate=done / elapsed) if done and elapsed > 0 else None

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


@contextmanager
def progress_bar(label: str, quiet: bool) -> Iterator[Progress]:
    """A bar labelled `label` on a terminal, else the silent progress."""
    if not shows_progress(quiet):
        yield NO_PROGRESS
        return
    bar = _Bar(label)
    try:
        yield bar
    finally:
        bar.close()
