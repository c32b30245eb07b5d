"""How a long batch command tells its caller how far it has got, without knowing who listens.

A service takes a `Progress` and calls `start(total)` once, then `advance(n)` as it goes; the
CLI passes a bar on a terminal (`intake.cli.progress`), everything else the silent `NO_PROGRESS`.
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def start(self, total: int) -> None: ...

    def advance(self, n: int = 1) -> None: ...


class _Silent:
    def start(self, total: int) -> None:
        """Nothing to show."""

    def advance(self, n: int = 1) -> None:
        """Nothing to show."""


NO_PROGRESS: Progress = _Silent()
