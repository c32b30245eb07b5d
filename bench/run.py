"""`make bench`: the parts of the performance picture, then one table of every figure.

1. render: ms per demo consent, ours vs a bare reportlab floor vs WeasyPrint from HTML
2. seal: ms per PAdES seal, (render + seal) / render
3. end to end: consents/s and submit p50/p95 under gunicorn (2 workers, 20 tablets)
4. archive: searches at 100,000 consents on SQLite and PostgreSQL
5. memory: a gunicorn worker's peak RSS after 1,000 consents, RSS first vs last 100
6. growth: render time for answers of 1, 10 and 100 pages; searches at 10k, 100k and 1M rows
7. audit: the staff audit trail page at 100,000 and 1,000,000 audit rows (SQLite)
8. check-in: a visit check-in's submit alone (its one-page sealed record), against a consent's
   submit and against laying out and sealing its page alone (SQLite, files)
9. pdfa: PDF/A render against the render before PDF/A; B-B, B-T and B-LTA seals on a loopback
   test PKI; `intake archive timestamp` at 10,000 and 100,000 consents
10. course: today's list and the patient search at 100,000 patients with 1,000,000 injections
11. scale: backup create/verify/restore, export, export verify and audit verify at 10,000 and
    100,000 consents on SQLite and PostgreSQL, each beside its floor, and each one's peak RSS

Each part prints its own detail as it runs; the table comes last. Each figure is a median over
repeated runs within this run, and each ratio is measured side by side (interleaved rounds).

    .venv/bin/python -m bench.run [--quick]
        [--only render seal growth e2e archive audit checkin pdfa course scale]
        [--markdown FILE]

`BENCH_QUICK=1` (or `--quick`) leaves out the 1,000,000-consent archive and the 1,000,000-row
audit trail (about 5 of the run's minutes), and runs part 11 at 1,000 and 3,000 consents. A
part that fails is reported in the table and the run goes on; the exit status is 1 if any part
failed (a missed target is not a failure).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime

from bench.measure import Figure, command_line, load_average, machine, markdown_table, print_table

PARTS = (
    "render", "seal", "growth", "e2e", "archive", "audit", "checkin", "pdfa", "course", "scale",
)  # fmt: skip


def part_runner(name: str, quick: bool) -> Callable[[], list[Figure]]:
    """The part's `run`, imported only when it runs (WeasyPrint, gunicorn helpers...)."""
    if name == "render":
        from bench import bench_render

        return bench_render.run
    if name == "seal":
        from bench import bench_seal

        return bench_seal.run
    if name == "growth":
        from bench import bench_growth

        return bench_growth.run
    if name == "e2e":
        from bench import bench_e2e

        return bench_e2e.run
    if name == "checkin":
        from bench import bench_checkin

        return bench_checkin.run
    if name == "pdfa":
        from bench import bench_pdfa

        sizes = bench_pdfa.SIZES[:-1] if quick else bench_pdfa.SIZES
        return lambda: bench_pdfa.run(sizes=sizes)
    if name == "scale":
        from bench import bench_scale

        sizes = bench_scale.QUICK_SIZES if quick else bench_scale.SIZES
        return lambda: bench_scale.run(sizes)
    if name == "audit":
        from bench import bench_audit_page

        sizes = bench_audit_page.SIZES[:-1] if quick else bench_audit_page.SIZES
        return lambda: bench_audit_page.run(sizes)
    if name == "course":
        from bench import bench_course

        return bench_course.run
    from bench import bench_archive

    sizes = bench_archive.SIZES[:-1] if quick else bench_archive.SIZES
    return lambda: bench_archive.run(sizes)


def commit() -> str:
    try:
        result = subprocess.run(
            ["git", "describe", "--always", "--dirty"], capture_output=True, text=True, check=True
        )
        return result.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        default=os.environ.get("BENCH_QUICK", "") not in ("", "0"),
        help="leave out the 1M archive and 1M audit rows, part 8 small (also BENCH_QUICK=1)",
    )
    parser.add_argument("--only", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--markdown", metavar="FILE", help="also write the table as Markdown")
    args = parser.parse_args()
    started = time.perf_counter()
    header = [
        f"machine: {machine()}",
        f"command: {command_line()}" + (" (BENCH_QUICK)" if args.quick else ""),
        f"commit {commit()}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"load average at start {load_average()}",
    ]
    print("\n".join(header), flush=True)
    figures: list[Figure] = []
    failed: list[str] = []
    timings: list[str] = []
    for name in args.only:
        print(f"\n=== {name} ===", flush=True)
        part_started = time.perf_counter()
        try:
            figures += part_runner(name, args.quick)()
        except Exception as error:  # noqa: BLE001 - report it, run the other parts
            traceback.print_exc()
            failed.append(name)
            figures.append(Figure(name, "FAILED", "-", note=f"{type(error).__name__}: {error}"))
        timings.append(f"{name} {time.perf_counter() - part_started:.0f} s")
        sys.stdout.flush()
    total = time.perf_counter() - started
    footer = (
        f"whole run {total / 60:.1f} min ({', '.join(timings)}); "
        f"load average at end {load_average()}"
    )
    print(f"\n=== the table ({len([f for f in figures if f.met is False])} missed) ===")
    print_table(figures)
    print(footer)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as out:
            out.write("\n".join(f"- {line}" for line in header) + "\n\n")
            out.write(markdown_table(figures) + "\n\n" + footer + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
