"""`intake archive repair|due|delete`, `intake audit verify` and `intake export [verify]`, on both
databases, against the same archive the app uses."""

from __future__ import annotations

import hashlib
import json
import shutil
import stat
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text, update

from intake.archive.audit import CLI, Actor
from intake.archive.errors import ConsentMissing
from intake.archive.migrate import head_revision
from intake.archive.models import ARCHIVED, DELETED, PENDING, AuditEvent, Consent
from intake.archive.service import Archive
from intake.cli import main
from intake.definition import FormCatalog
from intake.submission import validate_submission
from tests.support.app import Run, on_both_databases

app_config = pytest.fixture(on_both_databases, name="app_config")

TABLET = Actor(ip="192.0.2.7", user_agent="Tablet")


def submit(archive: Archive, catalog: FormCatalog, data: dict[str, Any], **changes: Any) -> str:
    return archive.submit(validate_submission({**data, **changes}, catalog), TABLET)


def minor(data: dict[str, Any], date_of_birth: str, signed_at: str) -> dict[str, Any]:
    data = json.loads(json.dumps(data))
    data["patient"]["date_of_birth"] = date_of_birth
    data["signed_at"] = signed_at
    data["guardian"] = {
        "name": "Ann O'Brien",
        "relationship": "mother",
        "signature": {k: v for k, v in data["signature"].items() if k != "typed_name"},
    }
    return data


def newest_event(archive: Archive) -> AuditEvent:
    with archive.sessions() as session:
        return session.scalar(select(AuditEvent).order_by(AuditEvent.seq.desc()))


# --- the archive's settings --------------------------------------------------------------------


def test_an_out_of_date_database_is_refused_with_the_command_to_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/empty.sqlite3")
    result = CliRunner().invoke(main, ["archive", "due"])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: the archive database is at schema none, the app needs {head_revision()}: "
        "run `intake db upgrade`"
    ]


def test_an_unknown_storage_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("STORAGE", "cloud")
    result = CliRunner().invoke(main, ["audit", "verify"])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: STORAGE must be one of files, database, not 'cloud'"
    ]


def test_a_database_url_it_cannot_use_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("DATABASE_URL", "postgres://clinic:s3cret@db.example/archive")
    result = CliRunner().invoke(main, ["audit", "verify"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: DATABASE_URL: ")
    assert "s3cret" not in result.output


# --- intake archive repair ---------------------------------------------------------------------


def test_repair_finishes_a_pending_consent(
    intake: Run, archive: Archive, catalog: FormCatalog, demo_data: dict[str, Any]
):
    consent_id = archive.accept(validate_submission(demo_data, catalog), TABLET)
    result = intake("archive", "repair")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "archive repair: 1 finished, 0 still failing, 0 unnamed PDFs removed",
        f"  finished: consent {consent_id}",
    ]
    assert archive.get(consent_id).status == ARCHIVED
    event = newest_event(archive)
    assert (event.event, event.target, event.user_agent) == (
        "consent archived",
        consent_id,
        CLI.user_agent,
    )


def test_repair_reports_a_consent_it_cannot_finish(
    intake: Run, archive: Archive, catalog: FormCatalog, demo_data: dict[str, Any]
):
    consent_id = archive.accept(validate_submission(demo_data, catalog), TABLET)
    with archive.transaction() as session:
        session.execute(update(Consent).values(form_sha256="0" * 64))
    result = intake("archive", "repair")
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "archive repair: 0 finished, 1 still failing, 0 unnamed PDFs removed",
        f"  still failing: consent {consent_id}: "
        "form b12-methylcobalamin changed since version "
        f"{catalog.get('b12-methylcobalamin').version} was signed",
    ]
    assert archive.get(consent_id).status == PENDING


def test_repair_uses_the_forms_dir_it_is_given(
    intake: Run, archive: Archive, catalog: FormCatalog, demo_data: dict[str, Any], tmp_path: Path
):
    consent_id = archive.accept(validate_submission(demo_data, catalog), TABLET)
    empty = tmp_path / "no-forms"
    empty.mkdir()
    result = intake("--forms-dir", empty, "archive", "repair")
    assert result.exit_code == 1
    assert f"  still failing: consent {consent_id}: KeyError" in result.stdout.splitlines()
    assert intake("archive", "repair").exit_code == 0


def test_repair_removes_pdfs_no_consent_names_after_the_grace(
    intake: Run, archive: Archive, catalog: FormCatalog, demo_data: dict[str, Any]
):
    consent_id = submit(archive, catalog, demo_data)
    named = archive.blobs.path(archive.get(consent_id).pdf_sha256)
    orphan_bytes = b"%PDF-1.7 left by a crash between the rename and the commit"
    orphan_sha = hashlib.sha256(orphan_bytes).hexdigest()
    orphan = archive.settings.files_dir / orphan_sha[:2] / f"{orphan_sha}.pdf"
    orphan.parent.mkdir(exist_ok=True)
    orphan.write_bytes(orphan_bytes)

    result = intake("archive", "repair", "--grace", "3600")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "archive repair: 0 finished, 0 still failing, 0 unnamed PDFs removed"
    ]
    assert orphan.exists()

    result = intake("archive", "repair")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "archive repair: 0 finished, 0 still failing, 1 unnamed PDFs removed",
        f"  removed: PDF {orphan_sha}",
    ]
    assert not orphan.exists()
    assert named.exists()


def test_repair_refuses_a_negative_grace(intake: Run):
    result = intake("archive", "repair", "--grace", "-1")
    assert result.exit_code == 2
    assert "--grace" in result.stderr


# --- intake archive due / delete ---------------------------------------------------------------


@pytest.fixture
def retention(archive: Archive, catalog: FormCatalog, demo_data: dict[str, Any]) -> dict[str, str]:
    """Consents past retention (an adult's from 2012, a minor's from 1990) and two not yet."""
    return {
        "adult_2012": submit(archive, catalog, demo_data, signed_at="2012-03-01T10:00:00-06:00"),
        "minor_1990": archive.submit(
            validate_submission(
                minor(demo_data, "1980-06-15", "1990-05-02T09:00:00-05:00"), catalog
            ),
            TABLET,
        ),
        "minor_2012": archive.submit(
            validate_submission(
                minor(demo_data, "2000-01-01", "2012-03-01T10:00:00-06:00"), catalog
            ),
            TABLET,
        ),
        "recent": submit(archive, catalog, demo_data),
    }


def test_due_lists_ids_and_dates_only(intake: Run, retention: dict[str, str]):
    result = intake("archive", "due")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"{retention['minor_1990']}\t1990-05-02\t2011-06-15\tminor",
        f"{retention['adult_2012']}\t2012-03-01\t2022-03-01\tadult",
    ]
    assert "O'Brien" not in result.output


def test_due_says_so_when_nothing_is_due(intake: Run):
    result = intake("archive", "due")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr == "no consent is past retention\n"


def test_delete_with_yes(intake: Run, archive: Archive, retention: dict[str, str]):
    consent_id = retention["adult_2012"]
    result = intake("archive", "delete", consent_id, "--yes")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"deleted consent {consent_id}\n"
    with pytest.raises(ConsentMissing):
        archive.get(consent_id)
    with archive.sessions() as session:
        assert session.get(Consent, consent_id).status == DELETED
    event = newest_event(archive)
    assert (event.event, event.target, event.user_agent) == (
        "consent deleted",
        consent_id,
        CLI.user_agent,
    )
    assert [line.split("\t")[0] for line in intake("archive", "due").stdout.splitlines()] == [
        retention["minor_1990"]
    ]


def test_delete_asks_first(intake: Run, archive: Archive, retention: dict[str, str]):
    consent_id = retention["minor_1990"]
    result = intake("archive", "delete", consent_id, input="n\n")
    assert result.exit_code == 1
    assert (
        f"Delete consent {consent_id} (signed 1990-05-02, kept until 2011-06-15)? "
        "This cannot be undone" in result.output
    )
    assert archive.get(consent_id).status == ARCHIVED

    result = intake("archive", "delete", consent_id, input="y\n")
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith(f"deleted consent {consent_id}\n")
    with pytest.raises(ConsentMissing):
        archive.get(consent_id)


def test_delete_refuses_a_consent_not_past_retention(
    intake: Run, archive: Archive, retention: dict[str, str]
):
    consent_id = retention["minor_2012"]
    result = intake("archive", "delete", consent_id, "--yes")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: {consent_id}: This consent must be kept until 2031-01-01."
    ]
    assert archive.get(consent_id).status == ARCHIVED


def test_delete_names_an_unknown_or_deleted_id(intake: Run, retention: dict[str, str]):
    gone = retention["adult_2012"]
    assert intake("archive", "delete", gone, "--yes").exit_code == 0
    for consent_id in (gone, "0" * 32, "not-an-id"):
        result = intake("archive", "delete", consent_id, "--yes")
        assert result.exit_code == 2
        assert result.stderr.splitlines() == [
            f"error: {consent_id}: no consent in the archive has this id"
        ]


# --- intake audit verify -----------------------------------------------------------------------


def test_audit_verify_on_a_whole_trail(
    intake: Run, archive: Archive, catalog: FormCatalog, demo_data: dict[str, Any]
):
    submit(archive, catalog, demo_data)
    submit(archive, catalog, demo_data)
    result = intake("audit", "verify")
    assert result.exit_code == 0, result.output
    assert result.stdout == "audit trail holds: 4 rows\n"


def change_audit_row(archive: Archive, seq: int) -> None:
    """Change one row's IP address behind the trail's back, past its append-only triggers."""
    with archive.transaction() as session:
        if archive.engine.dialect.name == "sqlite":
            session.execute(text("DROP TRIGGER audit_events_no_update"))
        else:
            session.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
        session.execute(
            text("UPDATE audit_events SET ip = '198.51.100.1' WHERE seq = :seq"), {"seq": seq}
        )


@pytest.mark.parametrize(
    ("seq", "reason"),
    [
        (2, "row 2 was changed: its SHA-256 no longer matches the one row 3 recorded"),
        (4, "row 4 (the newest) was changed after it was written"),
    ],
)
def test_audit_verify_names_the_changed_row(
    intake: Run,
    archive: Archive,
    catalog: FormCatalog,
    demo_data: dict[str, Any],
    seq: int,
    reason: str,
):
    submit(archive, catalog, demo_data)
    submit(archive, catalog, demo_data)
    change_audit_row(archive, seq)
    result = intake("audit", "verify")
    assert result.exit_code == 1
    assert result.stdout == f"audit trail BROKEN at row {seq}: {reason}\n"


# --- intake export [verify] --------------------------------------------------------------------


@pytest.fixture
def exported(
    intake: Run,
    archive: Archive,
    catalog: FormCatalog,
    demo_data: dict[str, Any],
    tmp_path: Path,
) -> tuple[Path, list[str]]:
    """An export of two recent consents (one older, one pending left out), and their ids."""
    submit(archive, catalog, demo_data, signed_at="2019-12-31T23:00:00-05:00")
    archive.accept(validate_submission(demo_data, catalog), TABLET)
    ids = [
        submit(archive, catalog, demo_data, signed_at="2020-01-01T08:00:00-05:00"),
        submit(archive, catalog, demo_data),
    ]
    out = tmp_path / "export" / "archive.zip"
    out.parent.mkdir()
    result = intake("export", "--since", "2020-01-01", "--out", out)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"wrote {out}: 2 consents signed on or after 2020-01-01\n"
    return out, ids


def test_export_writes_each_pdf_and_a_manifest(
    exported: tuple[Path, list[str]], archive: Archive, demo_data: dict[str, Any]
):
    out, ids = exported
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert [p.name for p in out.parent.iterdir()] == ["archive.zip"]  # no temporary file left
    with zipfile.ZipFile(out) as zf:
        assert sorted(zf.namelist()) == sorted(
            [*(f"consents/{i}.pdf" for i in ids), "manifest.json"]
        )
        manifest = json.loads(zf.read("manifest.json"))
        pdfs = {i: zf.read(f"consents/{i}.pdf") for i in ids}
    assert manifest["format"] == 1
    assert manifest["since"] == "2020-01-01"
    assert manifest["exported_at"].endswith("+00:00")
    assert [entry["id"] for entry in manifest["consents"]] == ids
    for entry in manifest["consents"]:
        consent = archive.get(entry["id"])
        pdf = pdfs[entry["id"]]
        assert pdf == archive.pdf(entry["id"])
        assert entry == {
            "id": consent.id,
            "legal_name": demo_data["patient"]["legal_name"],
            "date_of_birth": demo_data["patient"]["date_of_birth"],
            "signed_at": consent.signed_at,
            "form_id": consent.form_id,
            "form_version": consent.form_version,
            "file": f"consents/{consent.id}.pdf",
            "sha256": consent.pdf_sha256,
            "size": len(pdf),
        }
        assert hashlib.sha256(pdf).hexdigest() == consent.pdf_sha256
    event = newest_event(archive)
    assert (event.event, event.target, event.user_agent) == (
        "consents exported",
        "2 since 2020-01-01",
        CLI.user_agent,
    )


def test_export_verify_holds_for_an_untouched_export(intake: Run, exported: tuple[Path, list]):
    out, _ = exported
    result = intake("export", "verify", out)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{out}: 2 consents, every file as the manifest records\n"


def rewrite_zip(path: Path, change: Callable[[dict[str, bytes]], None]) -> None:
    """Rewrite the zip with `change` applied to its files (a whole, readable zip again)."""
    with zipfile.ZipFile(path) as zf:
        files = {name: zf.read(name) for name in zf.namelist()}
    change(files)
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)


def flip_a_byte(data: bytes) -> bytes:
    changed = bytearray(data)
    changed[len(changed) // 2] ^= 0x01
    return bytes(changed)


def test_export_verify_reports_each_change(intake: Run, exported: tuple[Path, list[str]]):
    out, (first, second) = exported
    with zipfile.ZipFile(out) as zf:
        entries = {e["id"]: e for e in json.loads(zf.read("manifest.json"))["consents"]}
        original = zf.read(f"consents/{first}.pdf")
    changed = flip_a_byte(original)

    def tamper(files: dict[str, bytes]) -> None:
        files[f"consents/{first}.pdf"] = changed
        del files[f"consents/{second}.pdf"]
        files["consents/extra.pdf"] = b"%PDF-1.7 slipped in"

    rewrite_zip(out, tamper)
    result = intake("export", "verify", out)
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{out}: NOT VERIFIED",
        f"  problem: consents/{first}.pdf: SHA-256 {hashlib.sha256(changed).hexdigest()} does "
        f"not match the manifest ({entries[first]['sha256']})",
        f"  problem: consents/{second}.pdf: missing from the zip",
        "  problem: consents/extra.pdf: not in the manifest",
    ]


def test_export_verify_reports_a_file_of_another_size(
    intake: Run, exported: tuple[Path, list[str]]
):
    out, (first, _) = exported

    def append(files: dict[str, bytes]) -> None:
        files[f"consents/{first}.pdf"] += b"\n%%EOF\n"

    rewrite_zip(out, append)
    result = intake("export", "verify", out)
    assert result.exit_code == 1
    problems = result.stdout.splitlines()[1:]
    assert len(problems) == 2
    assert problems[0].startswith(f"  problem: consents/{first}.pdf: SHA-256 ")
    assert problems[1].startswith(f"  problem: consents/{first}.pdf: ")
    assert problems[1].endswith(" bytes, the manifest says " + problems[1].split()[-1])


def test_export_verify_reports_a_byte_changed_inside_the_zip(
    intake: Run, exported: tuple[Path, list[str]]
):
    out, (first, _) = exported
    with zipfile.ZipFile(out) as zf:
        info = zf.getinfo(f"consents/{first}.pdf")
    data = bytearray(out.read_bytes())
    # Inside the member's compressed bytes, past its local header.
    data[info.header_offset + 30 + len(info.filename) + info.compress_size // 2] ^= 0x01
    out.write_bytes(bytes(data))
    result = intake("export", "verify", out)
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0] == f"{out}: NOT VERIFIED"
    assert f"  problem: consents/{first}.pdf: " in result.stdout


@pytest.mark.parametrize(
    ("manifest", "problem"),
    [
        (None, "no manifest.json in the zip"),
        (b"{not json", "manifest.json is not valid JSON"),
        (b'{"format": 2, "consents": []}', "manifest.json is not an export manifest of format 1"),
    ],
)
def test_export_verify_reports_a_missing_or_foreign_manifest(
    intake: Run, exported: tuple[Path, list[str]], manifest: bytes | None, problem: str
):
    out, _ = exported

    def replace(files: dict[str, bytes]) -> None:
        if manifest is None:
            del files["manifest.json"]
        else:
            files["manifest.json"] = manifest

    rewrite_zip(out, replace)
    result = intake("export", "verify", out)
    assert result.exit_code == 1
    assert result.stdout.splitlines()[1].startswith(f"  problem: {problem}")


def test_export_verify_of_a_file_that_is_no_zip(intake: Run, tmp_path: Path):
    path = tmp_path / "archive.zip"
    path.write_bytes(b"not a zip")
    result = intake("export", "verify", path)
    assert result.exit_code == 1
    assert "  problem: not a readable zip: " in result.stdout


def test_export_refuses_a_stored_pdf_that_does_not_match_its_row(
    intake: Run, archive: Archive, catalog: FormCatalog, demo_data: dict[str, Any], tmp_path: Path
):
    consent_id = submit(archive, catalog, demo_data)
    recorded = archive.get(consent_id).pdf_sha256
    stored = archive.blobs.path(recorded)
    stored.chmod(0o600)
    changed = flip_a_byte(stored.read_bytes())
    stored.write_bytes(changed)
    out = tmp_path / "archive.zip"
    result = intake("export", "--since", "2020-01-01", "--out", out)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: consent {consent_id}: the stored PDF's SHA-256 "
        f"{hashlib.sha256(changed).hexdigest()} does not match the archive's record ({recorded})"
    ]
    assert list(tmp_path.glob("*archive.zip*")) == []
    assert newest_event(archive).event != "consents exported"


@pytest.mark.parametrize("app_config", [{"STORAGE": "database"}], indirect=True)
def test_export_from_database_storage(
    intake: Run, archive: Archive, catalog: FormCatalog, demo_data: dict[str, Any], tmp_path: Path
):
    consent_id = submit(archive, catalog, demo_data)
    out = tmp_path / "archive.zip"
    result = intake("export", "--since", "2026-01-01", "--out", out)
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(out) as zf:
        assert zf.read(f"consents/{consent_id}.pdf") == archive.pdf(consent_id)
    assert intake("export", "verify", out).exit_code == 0


def test_export_of_nothing_is_an_empty_manifest(intake: Run, tmp_path: Path):
    out = tmp_path / "archive.zip"
    result = intake("export", "--since", "2026-01-01", "--out", out)
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(out) as zf:
        assert zf.namelist() == ["manifest.json"]
        assert json.loads(zf.read("manifest.json"))["consents"] == []


@pytest.mark.parametrize("since", ["2026-13-01", "yesterday", "2026-1-1", "20260101", ""])
def test_export_refuses_a_bad_date(intake: Run, tmp_path: Path, since: str):
    result = intake("export", "--since", since, "--out", tmp_path / "archive.zip")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == ["error: --since: must be a date written YYYY-MM-DD"]
    assert not (tmp_path / "archive.zip").exists()


def test_export_into_a_missing_folder(intake: Run, tmp_path: Path):
    out = tmp_path / "nowhere" / "archive.zip"
    result = intake("export", "--since", "2026-01-01", "--out", out)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [f"error: {out}: cannot write: no folder {out.parent}"]


def test_export_needs_since_and_out(intake: Run, tmp_path: Path):
    result = intake("export", "--since", "2026-01-01")
    assert result.exit_code == 2
    assert "give --since YYYY-MM-DD and --out FILE" in result.stderr


def test_export_verify_needs_no_database(
    exported: tuple[Path, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    out, _ = exported
    elsewhere = shutil.copy(out, tmp_path / "copy.zip")
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    result = CliRunner().invoke(main, ["export", "verify", str(elsewhere)])
    assert result.exit_code == 0, result.output
