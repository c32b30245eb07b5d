"""What every benchmark shares: the demo consent, timing a call in rounds, the machine, the table.

Every part of `make bench` (`run.py`) returns `Figure`s: one line each of the one table it
prints at the end, with the target and whether it was met.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from intake.config import PROJECT_ROOT
from intake.definition import ConsentDefinition, FormCatalog
from intake.submission import Submission, validate_submission

ROUNDS = 15
PER_ROUND = 10


def demo_consent() -> tuple[ConsentDefinition, Submission]:
    """The demo submission, validated, with its definition."""
    catalog = FormCatalog(PROJECT_ROOT / "forms")
    data = json.loads((PROJECT_ROOT / "intake" / "demo_submission.json").read_text("utf-8"))
    submission = validate_submission(data, catalog)
    return catalog.get(submission.form_id), submission


def ms_per_call(fn: Callable[[], object], samples: list[float], per_round: int = PER_ROUND) -> None:
    """Append one round's mean milliseconds per call of `fn` to `samples`."""
    start = time.perf_counter()
    for _ in range(per_round):
        fn()
    samples.append((time.perf_counter() - start) * 1000 / per_round)


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def ratios(numerators: list[float], denominators: list[float]) -> float:
    """The median of round-by-round ratios: each pair was measured side by side."""
    return statistics.median(n / d for n, d in zip(numerators, denominators, strict=True))


def meminfo_gib() -> float:
    with open("/proc/meminfo", encoding="utf-8") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024**2
    return float("nan")


def machine() -> str:
    """Cores, CPU model and memory, from /proc."""
    model = platform.processor() or platform.machine()
    with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cores ({model}), {meminfo_gib():.1f} GiB memory"


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


@dataclass
class Figure:
    """One line of the summary table."""

    part: str
    measure: str
    value: str
    target: str = ""
    #: None when the line has no target (a reference figure).
    met: bool | None = None
    note: str = ""

    @property
    def verdict(self) -> str:
        return {None: "", True: "met", False: "MISSED"}[self.met]


def by_part(figures: list[Figure]) -> list[Figure]:
    """In the order of the parts ("1 render" ... "6 growth"), each part's lines as they came."""
    return sorted(figures, key=lambda f: f.part.split(" ", 1)[0])


def print_table(figures: list[Figure]) -> None:
    """The figures as one fixed-width table, grouped by part."""
    figures = by_part(figures)
    widths = {
        "part": max(4, *(len(f.part) for f in figures)),
        "measure": max(7, *(len(f.measure) for f in figures)),
        "value": max(6, *(len(f.value) for f in figures)),
        "target": max(6, *(len(f.target) for f in figures)),
    }
    header = (
        f"{'part':<{widths['part']}}  {'measure':<{widths['measure']}}  "
        f"{'median':>{widths['value']}}  {'target':<{widths['target']}}  verdict"
    )
    print(header)
    print("-" * (len(header) + 2))
    last = None
    for f in figures:
        part = f.part if f.part != last else ""
        last = f.part
        line = (
            f"{part:<{widths['part']}}  {f.measure:<{widths['measure']}}  "
            f"{f.value:>{widths['value']}}  {f.target:<{widths['target']}}  {f.verdict}"
        )
        print(line.rstrip() + (f"  ({f.note})" if f.note else ""))


def markdown_table(figures: list[Figure]) -> str:
    """The same table in Markdown, for BENCHMARKS.md."""
    lines = ["| part | measure | median | target | verdict |", "| --- | --- | ---: | --- | --- |"]
    for f in by_part(figures):
        verdict = f.verdict + (f" ({f.note})" if f.note else "")
        lines.append(f"| {f.part} | {f.measure} | {f.value} | {f.target} | {verdict} |")
    return "\n".join(lines)


def command_line() -> str:
    """How this run was started, as one would type it again (`python -m bench.<part> ...`)."""
    spec = getattr(sys.modules["__main__"], "__spec__", None)
    start = ["-m", spec.name] if spec else [os.path.relpath(sys.argv[0])]
    return shlex.join([os.path.relpath(sys.executable), *start, *sys.argv[1:]])
