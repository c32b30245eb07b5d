"""`intake export` and `intake export verify` at two sizes: wall time and each one's peak RSS.

Seeds fast: one consent is submitted (rendered and sealed), then its row is copied with new ids,
so every copy exports the same stored PDF (the PDF is read, checked and written for each one, as
for real consents). `export verify` then finds every copy's sealed id differs from its manifest
entry (the PDF is the first consent's), after doing every check it does on a real export: its
time and memory are those of a real verify; its verdict here is not. Each command runs in a
process of its own (`bench.bench_backup.run_measured`'s child), so its peak RSS is its own; beside
them, `zip -qr` of the PDF folder and `unzip -t` of the export, the floors for the same data.

    .venv/bin/python -m bench.bench_export [--consents 1000 10000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert, select

from bench.bench_backup import TABLET
from intake.archive.migrate import upgrade
from intake.archive.models import Consent
from intake.archive.service import Archive
from intake.config import Config
from intake.definition import FormCatalog
from intake.submission import validate_submission
from tests.support.app import FORMS_DIR, demo_submission

CHILD = (
    "import sys\n"
    "from intake.cli import main\n"
    "try:\n"
    "    main(sys.argv[1:])\n"
    "except SystemExit as exit:\n"
    "    code = exit.code\n"
    "    assert code in (0, 1), code\n"
    "print(next(int(line.split()[1]) for line in open('/proc/self/status') if "
    "line.startswith('VmHWM:')), file=sys.stderr)\n"
)


def measured(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Seconds and peak RSS (MiB) of `intake ARGS --quiet` in a child process of its own (exit
    1 is a verify that found problems, expected here)."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", CHILD, *args, "--quiet"], env=env, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"intake {' '.join(args)} failed:\n{result.stderr[-2000:]}")
    return elapsed, int(result.stderr.strip().splitlines()[-1]) / 1024


def seed(archive: Archive, count: int) -> None:
    """One real sealed consent, and `count - 1` copies of its row with ids of their own."""
    submission = validate_submission(demo_submission(), FormCatalog(FORMS_DIR))
    first = archive.submit(submission, TABLET)
    table = Consent.__table__
    with archive.transaction() as session:
        row = dict(session.execute(select(table).where(table.c.id == first)).mappings().one())
    row["submit_key"] = None
    batch = []
    for n in range(1, count):
        batch.append({**row, "id": f"{first[:20]}{n:012d}"})
        if len(batch) == 1000 or n == count - 1:
            with archive.transaction() as session:
                session.execute(insert(table), batch)
            batch = []


def floor(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=False, capture_output=True)
    return time.perf_counter() - started


def run(count: int, database_url: str) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-export-") as scratch:
        folder = Path(scratch)
        env = {
            **os.environ,
            "INSTANCE_PATH": str(folder / "instance"),
            "FORMS_DIR": str(FORMS_DIR),
        }
        env.pop("CI", None)
        if database_url:
            env["DATABASE_URL"] = database_url
        config = Config(environ=env)
        upgrade(config.database_url)
        archive = Archive(config.archive_settings(), FormCatalog(FORMS_DIR))
        started = time.perf_counter()
        seed(archive, count)
        archive.dispose()
        print(f"seeded {count} consents in {time.perf_counter() - started:.1f} s")
        out = folder / "export.zip"
        export = measured(["export", "--since", "2000-01-01", "--out", str(out)], env)
        verify = measured(["export", "verify", str(out)], env)
        size = out.stat().st_size / 2**20
        # The floors: a folder of `count` PDFs zipped (stored: -0), and the export tested.
        pdfs = folder / "pdfs"
        pdfs.mkdir()
        one = next((folder / "instance").rglob("*.pdf"), None)
        if one is not None and shutil.which("zip"):
            for n in range(count):
                os.link(one, pdfs / f"{n}.pdf")
            zipped = floor(["zip", "-qr0", str(folder / "floor.zip"), "."], pdfs)
            print(f"  floor: zip -qr0 of the {count} PDFs {zipped:.1f} s")
        if shutil.which("unzip"):
            print(
                f"  floor: unzip -t of the export {floor(['unzip', '-tq', str(out)], folder):.1f} s"
            )
        print(f"export of {count} consents: {size:.0f} MiB")
        print(f"  export:        {export[0]:6.1f} s, peak RSS {export[1]:.0f} MiB")
        print(f"  export verify: {verify[0]:6.1f} s, peak RSS {verify[1]:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--consents", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--database-url", default="")
    options = parser.parse_args()
    for count in options.consents:
        run(count, options.database_url)


if __name__ == "__main__":
    main()
