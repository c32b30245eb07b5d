"""Course records in what copies and checks the archive: `intake verify --archive`, `intake
export` and `export verify`, `intake backup create/verify/restore`; on both databases."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from intake.archive.course_models import Record
from intake.archive.service import Archive
from tests.support.app import Run, on_both_databases
from tests.support.course import submit_record, visit_record

app_config = pytest.fixture(on_both_databases, name="app_config")
STORAGES = [
    pytest.param({"STORAGE": "files"}, id="files"),
    pytest.param({"STORAGE": "database"}, id="database"),
]


def test_verify_archive_matches_a_record_pdf_and_refuses_a_changed_one(
    intake: Run, archive: Archive, tmp_path: Path
):
    record_id = submit_record(archive, visit_record(archive))
    path = tmp_path / "visit.pdf"
    path.write_bytes(archive.records.pdf(record_id))
    result = intake("verify", path, "--archive")
    assert result.exit_code == 0, result.output
    assert f"  archive: matches visit record {record_id} (stored " in result.stdout

    with archive.transaction() as session:
        session.get(Record, record_id).pdf_sha256 = "0" * 64
    result = intake("verify", path, "--archive")
    assert result.exit_code == 1
    assert "does not match the archive's record for visit record" in result.stdout


def test_an_export_carries_the_record_pdfs_and_its_verify_checks_them(
    intake: Run, archive: Archive, tmp_path: Path
):
    made = visit_record(archive)
    record_id = submit_record(archive, made)
    out = tmp_path / "export.zip"
    result = intake("export", "--since", "2000-01-01", "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"wrote {out}: 1 consents and 1 course records signed on or after 2000-01-01\n"
    )
    with zipfile.ZipFile(out) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        assert zf.read(f"records/{record_id}.pdf") == archive.records.pdf(record_id)
    (entry,) = manifest["records"]
    assert entry["id"] == record_id and entry["kind"] == "visit"
    assert entry["consent_id"] == made["consent_id"]
    assert [c["id"] for c in manifest["consents"]] == [made["consent_id"]]
    result = intake("export", "verify", out, "--quiet")
    assert result.exit_code == 0, result.output
    assert "1 consents and 1 course records, every file as the manifest records" in result.stdout

    # A record PDF swapped for another sealed file is caught.
    changed = tmp_path / "changed.zip"
    with zipfile.ZipFile(out) as zf, zipfile.ZipFile(changed, "w") as zw:
        for info in zf.infolist():
            data = zf.read(info.filename)
            if info.filename == f"records/{record_id}.pdf":
                data = archive.pdf(made["consent_id"])
            zw.writestr(info, data)
    result = intake("export", "verify", changed, "--quiet")
    assert result.exit_code == 1
    assert f"records/{record_id}.pdf: SHA-256" in result.stdout


@pytest.mark.usefixtures("backup_key")
@pytest.mark.parametrize("app_config", STORAGES, indirect=True)
def test_a_backup_carries_the_record_pdfs_and_restores_them(
    intake: Run,
    archive: Archive,
    tmp_path: Path,
    pg_bin: list[str],
    wipe: Callable[[], None],
):
    record_id = submit_record(archive, visit_record(archive))
    pdf = archive.records.pdf(record_id)
    sha256 = archive.records.get(record_id).pdf_sha256
    folder = tmp_path / "backup"
    result = intake("backup", "create", "--out", folder, "--with-seal-key", *pg_bin)
    assert result.exit_code == 0, result.output
    if archive.settings.storage == "files":
        names = [e["file"] for e in json.loads((folder / "manifest.json").read_text())["files"]]
        assert f"pdfs/{sha256[:2]}/{sha256}.pdf" in names
    result = intake("backup", "verify", folder, *pg_bin)
    assert result.exit_code == 0, result.output

    wipe()
    result = intake("backup", "restore", folder, *pg_bin)
    assert result.exit_code == 0, result.output
    assert archive.records.pdf(record_id) == pdf
    assert archive.check(pdf).holds
    path = tmp_path / "visit.pdf"
    path.write_bytes(pdf)
    result = intake("verify", path, "--archive")
    assert result.exit_code == 0, result.output
