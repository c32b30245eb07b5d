"""`intake export` streams and `intake export verify` is linear, on SQLite and PostgreSQL: the
rows come a keyset page at a time, the manifest is the one `manifest_json` writes, the PDFs are
stored (not deflated again), an interrupted export leaves nothing at its destination, and the
progress bar shows on a terminal only (never with --quiet, never in the tests' output)."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from intake.archive import export
from intake.archive.audit import CLI
from intake.archive.manifest import manifest_json
from intake.archive.service import Archive
from intake.definition import FormCatalog
from tests.support.app import Run, on_both_databases
from tests.test_backup import submit
from tests.test_cli_archive import newest_event

app_config = pytest.fixture(on_both_databases, name="app_config")


def some_consents(archive: Archive, catalog: FormCatalog, demo_data: dict[str, Any], n: int):
    return [
        submit(archive, catalog, demo_data, signed_at=f"2026-01-{day:02d}T10:00:00-05:00")
        for day in (5, 3, 3, 1, 4)[:n]
    ]


def test_an_export_over_several_pages_is_the_same_manifest_in_order(
    intake: Run,
    archive: Archive,
    catalog: FormCatalog,
    demo_data: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
):
    ids = some_consents(archive, catalog, demo_data, 5)
    monkeypatch.setattr(export, "PAGE", 2)  # three pages, two of them full; ties on a day
    out = tmp_path / "archive.zip"
    result = intake("export", "--since", "2026-01-01", "--out", out)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"wrote {out}: 5 consents signed on or after 2026-01-01\n"
    with zipfile.ZipFile(out) as zf:
        raw = zf.read("manifest.json")
        manifest = json.loads(raw)
        kinds = {info.filename: info.compress_type for info in zf.infolist()}
    assert raw == manifest_json(manifest)  # byte for byte the indented manifest
    listed = [entry["id"] for entry in manifest["consents"]]
    by_day = sorted(ids, key=lambda i: (archive.get(i).signed_on, i))
    assert listed == by_day
    assert kinds.pop("manifest.json") == zipfile.ZIP_DEFLATED
    assert set(kinds.values()) == {zipfile.ZIP_STORED}  # PDFs are compressed already
    assert len(kinds) == 5
    assert intake("export", "verify", out).exit_code == 0


class Counted(str):
    """A zip member's name that counts every comparison and hash made with it."""

    operations = 0

    def __eq__(self, other: object) -> bool:
        Counted.operations += 1
        return str.__eq__(self, other)

    def __hash__(self) -> int:
        Counted.operations += 1
        return str.__hash__(self)


def verify_operations(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[int, export.ExportCheck]:
    """How many name comparisons and hashes `verify_export` makes on the zip at `path`."""
    real = export._member_names
    monkeypatch.setattr(
        export, "_member_names", lambda zf: {Counted(name): None for name in real(zf)}
    )
    Counted.operations = 0
    check = export.verify_export(path, [])
    return Counted.operations, check


def synthetic_export(path: Path, n: int) -> None:
    """An export of `n` entries whose files do not match (so no seal is read) and one extra."""
    entries = [
        {"id": f"c{i}", "file": f"consents/c{i}.pdf", "sha256": "0" * 64, "size": 1}
        for i in range(n)
    ]
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(n):
            zf.writestr(f"consents/c{i}.pdf", b"x")
        zf.writestr("consents/extra.pdf", b"x")
        zf.writestr("manifest.json", json.dumps({"format": 1, "consents": entries}))


def test_export_verify_makes_a_constant_number_of_lookups_per_member(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    counts = {}
    for n in (300, 600):
        synthetic_export(tmp_path / f"{n}.zip", n)
        counts[n], check = verify_operations(tmp_path / f"{n}.zip", monkeypatch)
        assert check.count == n
        assert check.problems[-1] == "consents/extra.pdf: not in the manifest"
        assert len(check.problems) == n + 1
    # A list lookup per member would be some n²/2 comparisons (45,000 at 300); a set's is a few
    # per member (the n PDFs, the extra one and the manifest): built, looked up, listed.
    assert counts[300] <= 5 * 302
    assert counts[600] <= 5 * 602
    # The counter sees a quadratic lookup: the same member names in a list.
    names = [Counted(f"consents/c{i}.pdf") for i in range(300)]
    Counted.operations = 0
    assert all(f"consents/c{i}.pdf" in names for i in range(300))
    assert Counted.operations > 300 * 300 / 2


class Interrupt:
    """Progress that is stopped (Ctrl-C) after `after` consents are written."""

    def __init__(self, after: int) -> None:
        self.after = after

    def start(self, total: int) -> None:
        self.total = total

    def advance(self, n: int = 1) -> None:
        self.after -= n
        if self.after <= 0:
            raise KeyboardInterrupt


def test_an_interrupted_export_leaves_nothing_at_its_destination(
    archive: Archive, catalog: FormCatalog, demo_data: dict[str, Any], tmp_path: Path
):
    some_consents(archive, catalog, demo_data, 3)
    before = newest_event(archive).event
    folder = tmp_path / "out"
    folder.mkdir()
    stop = Interrupt(after=2)
    with pytest.raises(KeyboardInterrupt):
        export.export_consents(archive, export.date(2026, 1, 1), folder / "archive.zip", CLI, stop)
    assert stop.total == 3
    assert list(folder.iterdir()) == []  # no zip, no temporary file
    assert newest_event(archive).event == before
    # The next run starts clean.
    report = export.export_consents(archive, export.date(2026, 1, 1), folder / "archive.zip", CLI)
    assert report.count == 3
    assert [p.name for p in folder.iterdir()] == ["archive.zip"]


def on_a_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run `intake ARGS` with its stderr on a pseudo-terminal; exit code and what it showed."""
    main, other = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-c", "from intake.cli import main; main()", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=other,
        env=env,
    )
    os.close(other)
    shown = b""
    while True:
        ready, _, _ = select.select([main], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the terminal closed: the process has ended
            break
        if not chunk:
            break
        shown += chunk
    os.close(main)
    return process.wait(60), shown.decode("utf-8", "replace")


def test_the_progress_bar_shows_on_a_terminal_and_not_with_quiet_or_under_ci(
    intake: Run, archive: Archive, catalog: FormCatalog, demo_data: dict[str, Any], tmp_path: Path
):
    some_consents(archive, catalog, demo_data, 2)
    out = tmp_path / "archive.zip"
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    code, shown = on_a_terminal(["export", "--since", "2026-01-01", "--out", str(out)], env)
    assert code == 0, shown
    assert "Exporting consents" in shown
    assert "2/2" in shown
    code, shown = on_a_terminal(["export", "verify", str(out)], env)
    assert code == 0, shown
    assert "Verifying consents" in shown
    assert "2/2" in shown
    for args, where in (
        (["export", "--quiet", "--since", "2026-01-01", "--out", str(out)], env),
        (["export", "verify", "--quiet", str(out)], env),
        (["export", "--since", "2026-01-01", "--out", str(out)], {**env, "CI": "true"}),
    ):
        code, shown = on_a_terminal(args, where)
        assert code == 0, shown
        assert shown == ""
    # Not a terminal (the tests' runner): the output is the same as without a bar.
    result = intake("export", "verify", out)
    assert result.stdout == f"{out}: 2 consents, every file as the manifest records\n"
    assert result.stderr == ""
