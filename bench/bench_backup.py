"""Backup create and verify at 1,000 consents: wall time, and each command's peak memory.

Each command runs as `intake backup ...` in a process of its own, so its peak RSS is its own
(VmHWM of that child: not `ru_maxrss`, which Linux keeps across execve, so a child of a parent
that has just seeded a large archive would report the parent's peak as its own). Encrypting
and checking a file a chunk at a time keeps it flat however large the archive grows.

    .venv/bin/python -m bench.bench_backup [--consents 1000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from intake.archive.audit import Actor
from intake.archive.backup_key import make_key_file
from intake.archive.migrate import upgrade
from intake.archive.service import Archive
from intake.config import Config
from intake.definition import FormCatalog
from intake.submission import validate_submission
from tests.support.app import FORMS_DIR, demo_submission

TABLET = Actor(ip="192.0.2.7", user_agent="Bench")


def run_measured(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Seconds and peak RSS (MiB) of `intake <args>` in a child process of its own."""
    code = (
        "import sys\n"
        "from intake.cli import main\n"
        "try:\n"
        f"    main({args!r})\n"
        "except SystemExit as exit:\n"
        "    assert not exit.code, exit.code\n"
        "print(next(int(line.split()[1]) for line in open('/proc/self/status') if "
        "line.startswith('VmHWM:')), file=sys.stderr)\n"
    )
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"intake {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return elapsed, int(result.stderr.strip().splitlines()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--consents", type=int, default=1000)
    parser.add_argument("--database-url", default="")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-backup-") as scratch:
        folder = Path(scratch)
        env = {
            **os.environ,
            "INSTANCE_PATH": str(folder / "instance"),
            "FORMS_DIR": str(FORMS_DIR),
            "BACKUP_KEY_FILE": str(folder / "backup.key"),
        }
        if options.database_url:
            env["DATABASE_URL"] = options.database_url
        config = Config(environ=env)
        upgrade(config.database_url)
        catalog = FormCatalog(FORMS_DIR)
        archive = Archive(config.archive_settings(), catalog)
        submission = validate_submission(demo_submission(), catalog)
        started = time.perf_counter()
        for _ in range(options.consents):
            archive.submit(submission, TABLET)
        print(f"seeded {options.consents} consents in {time.perf_counter() - started:.0f} s")
        archive.dispose()
        make_key_file(folder / "backup.key")
        backup = folder / "backup"
        create = run_measured(["backup", "create", "--out", str(backup)], env)
        verify = run_measured(["backup", "verify", str(backup)], env)
        size = sum(p.stat().st_size for p in backup.rglob("*") if p.is_file()) / 2**20
        baseline = run_measured(["form", "list"], env)
        print(f"backup of {options.consents} consents: {size:.0f} MiB")
        print(f"  create: {create[0]:.1f} s, peak RSS {create[1]:.0f} MiB")
        print(f"  verify: {verify[0]:.1f} s, peak RSS {verify[1]:.0f} MiB")
        print(f"  (intake form list, for the baseline: peak RSS {baseline[1]:.0f} MiB)")


if __name__ == "__main__":
    main()
