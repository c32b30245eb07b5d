"""`intake export`, `intake backup create` and `intake backup restore` hold nothing a consent:
each runs in a process of its own on archives of two sizes (seeded fast with copies, as the scale
bench seeds them), and what Python allocates at the peak of each of its steps (tracemalloc, the
command's modules imported first) grows by less than a few bytes a consent from the one to the
other.

Peak RSS at such sizes cannot tell (130 MB of imports and allocator pages against a megabyte or
two), so the bytes Python allocates are measured; what grows outside Python (libpq's rows, SQLite's
pages) is for the scale bench (`bench/bench_scale.py`), at 10,000 consents and more.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench import scale_seed
from intake.archive.backup_key import make_key_file
from intake.archive.service import Archive
from intake.config import Config
from intake.definition import FormCatalog
from tests.support.app import FORMS_DIR
from tests.support.migrated import migrate

pytestmark = pytest.mark.slow

SMALL, LARGE = 400, 1600
#: What a command may allocate more at its peak, for each consent more: well under a manifest
#: entry (about 190 bytes) or a zip member's ZipInfo (about 380).
BYTES_A_CONSENT = 60

#: Where each command's run is cut into steps, each step's traced peak measured apart: a
#: transient that grows with the archive (a file read whole near the end) would otherwise hide
#: under a larger, constant peak of another step (Alembic loading its scripts).
STEPS = (
    ("export", "_write_manifest"),
    ("backup", "_copy_pdfs"),
    ("backup", "write_manifest"),
    ("backup", "verify_backup"),
    ("backup", "_restore_pdfs"),
    ("backup", "restore_sqlite"),
    ("backup", "upgrade"),
    ("backup", "compare"),
)

#: A child that imports the command's modules, makes the pages it reads the database by, and the
#: buffer ijson reads a manifest by (64 KiB: a few hundred entries' events at once), smaller than
#: the small archive (so both sizes read full pages: what grows is what is kept, not a page or a
#: buffer filling up), copies one PDF at a time (how many threads hold one at the peak is chance),
#: lets little cyclic garbage wait for the collector (json's indented encoder leaves some on each
#: call), then runs `intake ARGS` traced, and writes the traced peak of each step (`STEPS` cut the
#: run) and its peak RSS (VmHWM: `ru_maxrss` would carry the parent's over `exec`) to the file the
#: first argument names.
TRACED = """
import gc, json, sys, tracemalloc
from intake.archive import audit, backup, backup_layout, export
import intake.cli.backup, intake.cli.export
from intake.cli import main
export.PAGE = backup_layout.PDF_PAGE = 100
audit.WALK_PAGE = 200
import functools, ijson
for name in ("parse", "items"):
    setattr(ijson, name, functools.partial(getattr(ijson, name), buf_size=1024))
backup.COPY_THREADS = 1
gc.set_threshold(100)
peaks = []
def cut():
    peaks.append(tracemalloc.get_traced_memory()[1])
    tracemalloc.reset_peak()
def step(real):
    def run(*args, **kwargs):
        cut()
        try:
            return real(*args, **kwargs)
        finally:
            cut()
    return run
for module, name in STEPS:
    module = sys.modules["intake.archive." + module]
    setattr(module, name, step(getattr(module, name)))
out, args = sys.argv[1], sys.argv[2:]
tracemalloc.start()
try:
    main(args, standalone_mode=False)
finally:
    cut()
    with open("/proc/self/status") as status:
        rss = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    with open(out, "w") as file:
        json.dump({"peaks": peaks, "rss_kib": rss}, file)
"""


def traced(args: list[str], env: dict[str, str], folder: Path) -> dict[str, Any]:
    """`intake ARGS` (quiet) in a process of its own: each step's traced peak, and its peak
    RSS."""
    out = folder / "traced.json"
    result = subprocess.run(
        [sys.executable, "-c", f"STEPS = {STEPS!r}\n{TRACED}", str(out), *args, "--quiet"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(out.read_text())


def seeded(folder: Path, count: int, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """An archive (SQLite, PDFs in files) of `count` consents under `folder`; its environment."""
    env = {
        **os.environ,
        "INSTANCE_PATH": str(folder / "instance"),
        "FORMS_DIR": str(FORMS_DIR),
        "BACKUP_KEY_FILE": str(folder / "backup.key"),
    }
    for name in ("DATABASE_URL", "STORAGE", "ARCHIVE_DIR", "CERTIFICATES_DIR"):
        env.pop(name, None)
    config = Config(environ=env)
    migrate(config.database_url)
    archive = Archive(config.archive_settings(), FormCatalog(FORMS_DIR))
    monkeypatch.setattr(scale_seed, "DISTINCT", 2)  # two sealed for real, the others copies
    try:
        scale_seed.seed_consents(archive, count)
    finally:
        archive.dispose()
    make_key_file(folder / "backup.key")
    return env


def peaks(folder: Path, count: int, monkeypatch: pytest.MonkeyPatch) -> dict[str, dict[str, int]]:
    env = seeded(folder, count, monkeypatch)
    found = {
        "export": traced(
            ["export", "--since", "2000-01-01", "--out", str(folder / "export.zip")], env, folder
        ),
        "backup create": traced(["backup", "create", "--out", str(folder / "backup")], env, folder),
    }
    restored = {**env, "INSTANCE_PATH": str(folder / "restored")}
    found["backup restore"] = traced(
        ["backup", "restore", str(folder / "backup")], restored, folder
    )
    return found


def test_export_and_backup_allocate_nothing_a_consent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    small = peaks(tmp_path / "small", SMALL, monkeypatch)
    large = peaks(tmp_path / "large", LARGE, monkeypatch)
    allowed = (LARGE - SMALL) * BYTES_A_CONSENT
    for command in small:
        steps = zip(small[command]["peaks"], large[command]["peaks"], strict=True)
        grew = [big - few for few, big in steps]
        assert max(grew) < allowed, (command, grew, small[command], large[command])
        # And RSS, coarsely (SQLite's page cache grows with the database up to its bound): a
        # quarter more at four times the consents would be tens of kilobytes a consent.
        assert large[command]["rss_kib"] / small[command]["rss_kib"] < 1.25, (command, small, large)
