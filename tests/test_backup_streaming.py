"""`intake backup create|verify|restore` at scale: a backup or a restore killed half-way never
looks complete and the next run starts clean (create) or carries on (restore); the progress
bar shows on a terminal only; the manifest is read as a stream and its HMAC is the one
`BackupKey.mac` gives for the whole document; on PostgreSQL, verify restores the dump into a
throwaway database and finds what it finds in a SQLite copy (a changed PDF, a broken audit
chain, a PDF missing)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import text

from intake.archive import backup
from intake.archive.backup_key import BackupKey
from intake.archive.backup_manifest import EntryLog, canonical_chunks, mac_of, write_manifest
from intake.archive.models import ARCHIVED
from intake.archive.service import Archive
from intake.canonical import canonical_json
from intake.definition import FormCatalog
from tests.support.app import Run, on_both_databases
from tests.support.backups import resign_manifest
from tests.test_backup import backup_made, manifest_of, submit, verifies_against_archive
from tests.test_export_streaming import on_a_terminal

app_config = pytest.fixture(on_both_databases, name="app_config")
pytestmark = pytest.mark.usefixtures("backup_key")

#: A child that runs `intake ARGS` and is killed (SIGKILL, no clean-up of its own) on the
#: `after`+1st call of `module.target` whose first text argument starts with `prefix`.
KILLED_CHILD = """
import os, signal, sys
from intake.archive import {module}
from intake.cli import main
owner = {owner}
real = getattr(owner, {attribute!r})
calls = 0
def dying(*args, **kwargs):
    global calls
    if any(isinstance(a, str) and a.startswith({prefix!r}) for a in args):
        calls += 1
        if calls > {after}:
            os.kill(os.getpid(), signal.SIGKILL)
    return real(*args, **kwargs)
setattr(owner, {attribute!r}, dying)
main(sys.argv[1:])
"""


def killed(args: list[str], *, owner: str, attribute: str, prefix: str, after: int) -> int:
    module = owner.split(".")[0]
    code = KILLED_CHILD.format(
        module=module, owner=owner, attribute=attribute, prefix=prefix, after=after
    )
    result = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=False
    )
    return result.returncode


def three_consents(archive: Archive, catalog: FormCatalog, demo_data: dict[str, Any]) -> list[str]:
    return [
        submit(archive, catalog, demo_data, signed_at=f"2026-0{month}-02T10:00:00-05:00")
        for month in (1, 2, 3)
    ]


def test_a_killed_backup_never_looks_complete_and_the_next_one_starts_clean(
    intake: Run,
    archive: Archive,
    catalog: FormCatalog,
    demo_data: dict[str, Any],
    tmp_path: Path,
    pg_bin: list[str],
):
    three_consents(archive, catalog, demo_data)
    out = tmp_path / "backups"
    out.mkdir()
    args = ["backup", "create", "--out", str(out / "monday"), *pg_bin]
    status = killed(args, owner="backup", attribute="write_encrypted", prefix="pdfs/", after=1)
    assert status == -9
    (partial,) = out.iterdir()
    assert partial.name.startswith(".monday.") and partial.name.endswith(".partial")
    assert not (partial / "manifest.json").exists()
    assert len(list(partial.rglob("*.pdf"))) == 1  # one PDF of three was copied
    result = intake("backup", "verify", partial, *pg_bin)
    assert result.exit_code == 1
    assert (
        result.stdout.splitlines()[1] == f"  problem: no manifest.json in {partial}: not a backup"
    )
    result = intake("backup", "restore", partial, *pg_bin)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {partial} does not verify: nothing was restored")

    # A partial backup whose process still runs is left alone; one whose process is gone goes.
    being_made = Path(backup.tempfile.mkdtemp(dir=out, prefix=".tuesday.", suffix=".partial"))
    held = backup._hold(being_made)
    try:
        folder = backup_made(intake, out / "monday", *pg_bin)
        assert sorted(p.name for p in out.iterdir()) == [being_made.name, "monday"]
    finally:
        os.close(held)
    assert intake("backup", "verify", folder, *pg_bin).exit_code == 0
    assert len(manifest_of(folder)["files"]) == 1 + 1 + 3  # database, certificate, PDFs


def test_a_killed_restore_leaves_no_consent_and_the_next_one_carries_on(
    intake: Run,
    archive: Archive,
    catalog: FormCatalog,
    demo_data: dict[str, Any],
    tmp_path: Path,
    pg_bin: list[str],
    wipe,
):
    ids = three_consents(archive, catalog, demo_data)
    folder = backup_made(intake, tmp_path / "backup", *pg_bin)
    wipe()
    args = ["backup", "restore", str(folder), *pg_bin]
    status = killed(args, owner="blobs.FileBlobs", attribute="place_chunks", prefix="", after=1)
    assert status == -9
    # Only PDFs went in: the archive holds no consent (the database goes in last).
    assert len(list(archive.settings.files_dir.rglob("*.pdf"))) == 1
    assert archive.counts() == {}
    # Run again, without --force: the PDF it left is the backup's own, so nothing is replaced.
    result = intake("backup", "restore", folder, *pg_bin)
    assert result.exit_code == 0, result.output
    assert archive.counts() == {ARCHIVED: 3}
    assert len(list(archive.settings.files_dir.rglob("*.pdf"))) == 3
    for consent_id in ids:
        verifies_against_archive(intake, archive, consent_id, tmp_path)
    assert intake("audit", "verify").exit_code == 0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_progress_bar_shows_on_a_terminal_and_not_with_quiet_or_under_ci(
    intake: Run,
    archive: Archive,
    catalog: FormCatalog,
    demo_data: dict[str, Any],
    tmp_path: Path,
    wipe,
):
    three_consents(archive, catalog, demo_data)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    folder = tmp_path / "backup"
    code, shown = on_a_terminal(["backup", "create", "--out", str(folder)], env)
    assert code == 0, shown
    assert "Copying PDFs" in shown and "3/3" in shown
    code, shown = on_a_terminal(["backup", "verify", str(folder)], env)
    assert code == 0, shown
    assert "Checking files" in shown and "5/5" in shown  # database, certificate, 3 PDFs
    for args, where in (
        (["backup", "create", "--quiet", "--out", str(tmp_path / "quiet")], env),
        (["backup", "verify", "--quiet", str(folder)], env),
        (["backup", "verify", str(folder)], {**env, "CI": "true"}),
    ):
        code, shown = on_a_terminal(args, where)
        assert code == 0, shown
        assert shown == ""
    wipe()
    code, shown = on_a_terminal(["backup", "restore", str(folder)], env)
    assert code == 0, shown
    assert "Checking and restoring files" in shown and "10/10" in shown
    # Not a terminal (the tests' runner): nothing but the report.
    result = intake("backup", "verify", folder)
    assert result.exit_code == 0
    assert result.stderr == ""


def test_the_streamed_manifest_is_the_whole_documents_json_and_hmac(
    tmp_path: Path, backup_key: BackupKey
):
    head = {"format": 1, "zeta": 'ü "files":[]', "audit": {"rows": 2}, "key": "k"}
    entries = [{"file": f"pdfs/{n:02x}/x.pdf", "sha256": "a" * 64, "size": n} for n in range(3)]
    whole = {**head, "files": entries}
    assert b"".join(canonical_chunks(head, entries)) == canonical_json(whole)
    assert b"".join(canonical_chunks(head, [])) == canonical_json({**head, "files": []})
    assert mac_of(backup_key, canonical_chunks(head, entries)) == backup_key.mac(whole)
    log = EntryLog()
    for entry in entries:
        log.add(entry)
    sha256 = write_manifest(tmp_path, head, log, backup_key)
    data = (tmp_path / "manifest.json").read_bytes()
    written = json.loads(data)
    assert list(written) == [*head, "files", "hmac_sha256"]
    assert written == {**whole, "hmac_sha256": backup_key.mac(whole)}
    assert backup.hashlib.sha256(data).hexdigest() == sha256


# --- PostgreSQL: the dump's rows are checked -----------------------------------------------------


def break_on_postgresql(archive: Archive, statement: str) -> None:
    """Change the live archive behind the app's back, as the database's owner could."""
    with archive.engine.begin() as connection:
        connection.execute(text("ALTER TABLE audit_events DISABLE TRIGGER ALL"))
        connection.execute(text(statement))
        connection.execute(text("ALTER TABLE audit_events ENABLE TRIGGER ALL"))


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("app_config", [{"STORAGE": "database"}], indirect=True)
def test_verify_on_postgresql_finds_a_changed_pdf_in_the_dump(
    intake: Run,
    archive: Archive,
    catalog: FormCatalog,
    demo_data: dict[str, Any],
    tmp_path: Path,
    pg_bin: list[str],
):
    ids = three_consents(archive, catalog, demo_data)
    sha256 = archive.get(ids[1]).pdf_sha256
    break_on_postgresql(
        archive,
        f"UPDATE pdf_blobs SET data = overlay(data placing 'X' from 200) WHERE sha256 = '{sha256}'",
    )
    folder = backup_made(intake, tmp_path / "backup", *pg_bin)
    with archive.engine.connect() as connection:
        changed = connection.execute(
            text("SELECT encode(sha256(data), 'hex') FROM pdf_blobs WHERE sha256 = :s"),
            {"s": sha256},
        ).scalar_one()
    result = intake("backup", "verify", folder, *pg_bin)
    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines() == [
        f"{folder}: NOT VERIFIED",
        f"  problem: the PDF {sha256} of an archived consent has the SHA-256 {changed}",
    ]
    assert_no_throwaway_database_left(archive)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_verify_on_postgresql_finds_a_broken_audit_chain_and_a_missing_pdf(
    intake: Run,
    archive: Archive,
    catalog: FormCatalog,
    demo_data: dict[str, Any],
    tmp_path: Path,
    pg_bin: list[str],
    backup_key: BackupKey,
):
    ids = three_consents(archive, catalog, demo_data)
    folder = backup_made(intake, tmp_path / "good", *pg_bin)
    result = intake("backup", "verify", folder, *pg_bin)
    assert result.exit_code == 0, result.output
    assert "note:" not in result.stdout  # the rows were checked

    # A PDF of an archived consent taken out of the backup, and out of its manifest by
    # someone holding the key: only the dump's rows show it was there.
    sha256 = archive.get(ids[0]).pdf_sha256
    name = f"pdfs/{sha256[:2]}/{sha256}.pdf"
    (folder / name).unlink()
    manifest = manifest_of(folder)
    manifest["files"] = [e for e in manifest["files"] if e["file"] != name]
    resign_manifest(folder, manifest, backup_key)
    result = intake("backup", "verify", folder, *pg_bin)
    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines() == [
        f"{folder}: NOT VERIFIED",
        f"  problem: the PDF {sha256} of an archived consent is missing",
    ]

    # An audit row changed in the database before the backup was made.
    break_on_postgresql(archive, "UPDATE audit_events SET target = 'someone else' WHERE seq = 2")
    folder = backup_made(intake, tmp_path / "broken", *pg_bin)
    result = intake("backup", "verify", folder, *pg_bin)
    assert result.exit_code == 1, result.output
    (title, problem) = result.stdout.splitlines()
    assert title == f"{folder}: NOT VERIFIED"
    assert problem.startswith("  problem: the audit trail is broken at row 2: ")
    assert_no_throwaway_database_left(archive)


def assert_no_throwaway_database_left(archive: Archive) -> None:
    url = archive.engine.url
    with psycopg.connect(
        host=url.host, port=url.port, user=url.username, dbname="postgres", autocommit=True
    ) as admin:
        names = [row[0] for row in admin.execute("SELECT datname FROM pg_database")]
    assert [name for name in names if "_verify_" in name] == []
