"""`intake verify`: a plain-language verdict on a seal, and with --archive on the archive's record;
exit 0 when all holds, 1 when not."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import update

from intake.archive.audit import Actor
from intake.archive.models import Consent
from intake.archive.service import Archive
from intake.certificates import ClinicSigner, clinic_signer
from intake.cli import main
from intake.config import PROJECT_ROOT, Config
from intake.definition import FormCatalog
from intake.pdf import render_consent
from intake.pdf.seal import seal_pdf
from intake.submission import validate_submission
from tests.support.app import Run, on_both_databases

app_config = pytest.fixture(on_both_databases, name="app_config")

DEMO_PATH = PROJECT_ROOT / "intake" / "demo_submission.json"
DOC_ID = "5d4c3b2a-1908-4f7e-8d6c-5b4a39281706"
PASSWORD = "patient copy"


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def demo_pdf(catalog: FormCatalog) -> bytes:
    submission = validate_submission(json.loads(DEMO_PATH.read_text("utf-8")), catalog)
    return render_consent(catalog.get(submission.form_id), submission, document_id=DOC_ID)


@pytest.fixture
def certificates_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The clinic's certificates folder, as `intake verify` reads it from the settings."""
    folder = tmp_path / "certificates"
    monkeypatch.setenv("CERTIFICATES_DIR", str(folder))
    return folder


@pytest.fixture
def clinic(certificates_dir: Path) -> ClinicSigner:
    return clinic_signer(certificates_dir)


def sealed_file(
    tmp_path: Path, pdf: bytes, signer: ClinicSigner, *, password: str | None = None
) -> Path:
    path = tmp_path / "consent.pdf"
    path.write_bytes(seal_pdf(pdf, signer, reason=f"document {DOC_ID}", password=password))
    return path


def test_a_sealed_consent_verifies(tmp_path: Path, demo_pdf: bytes, clinic: ClinicSigner):
    path = sealed_file(tmp_path, demo_pdf, clinic)
    result = run("verify", path)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"{path}: sealed by the clinic, unchanged since"
    assert f"  sealed with: {clinic.certificate.subject} (SHA-256 {clinic.certificate.sha256})" in (
        lines
    )
    assert f"  reason: document {DOC_ID}" in lines
    assert "  covers: the whole file, unchanged since sealing" in lines


def test_a_changed_byte_fails_with_the_reason(
    tmp_path: Path, demo_pdf: bytes, clinic: ClinicSigner
):
    path = sealed_file(tmp_path, demo_pdf, clinic)
    data = bytearray(path.read_bytes())
    at = data.index(b"stream", data.index(b"/Contents")) + 40
    data[at] ^= 0x01
    path.write_bytes(bytes(data))
    result = run("verify", path)
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == f"{path}: NOT VERIFIED"
    assert (
        "  problem: the content was changed after sealing: its SHA-256 no longer matches the seal"
        in result.output.splitlines()
    )


def test_an_unsealed_pdf_fails(tmp_path: Path, demo_pdf: bytes, clinic: ClinicSigner):
    path = tmp_path / "plain.pdf"
    path.write_bytes(demo_pdf)
    result = run("verify", path)
    assert result.exit_code == 1
    assert "problem: the file carries no seal" in result.output


def test_another_certificate_fails(tmp_path: Path, demo_pdf: bytes, clinic: ClinicSigner):
    stranger = clinic_signer(tmp_path / "elsewhere")
    path = sealed_file(tmp_path, demo_pdf, stranger)
    result = run("verify", path)
    assert result.exit_code == 1
    assert "problem: sealed with a certificate that is not the clinic's" in result.output


def test_trust_accepts_a_given_certificate_instead_of_the_kept_ones(
    tmp_path: Path, demo_pdf: bytes, clinic: ClinicSigner
):
    elsewhere = clinic_signer(tmp_path / "elsewhere")
    path = sealed_file(tmp_path, demo_pdf, elsewhere)
    given = tmp_path / "their.pem"
    given.write_bytes(elsewhere.certificate.pem)
    assert run("verify", path, "--trust", given).exit_code == 0

    ours = tmp_path / "ours.pem"
    ours.write_bytes(clinic.certificate.pem)
    result = run("verify", path, "--trust", ours)
    assert result.exit_code == 1
    assert "not the clinic's" in result.output


def test_with_no_kept_certificate_it_says_so(tmp_path: Path, demo_pdf: bytes):
    signer = clinic_signer(tmp_path / "elsewhere")
    path = sealed_file(tmp_path, demo_pdf, signer)
    result = run("verify", path)
    assert result.exit_code == 1
    folder = Config().CERTIFICATES_DIR
    assert f"note: no clinic certificate is kept in {folder}" in result.output


def test_an_encrypted_copy_verifies_with_its_password(
    tmp_path: Path, demo_pdf: bytes, clinic: ClinicSigner
):
    path = sealed_file(tmp_path, demo_pdf, clinic, password=PASSWORD)
    assert run("verify", path, "--password", PASSWORD).exit_code == 0
    result = run("verify", path)
    assert result.exit_code == 1
    assert "problem: the file is encrypted: give its password with --password" in result.output


def test_a_trust_file_that_is_no_certificate_is_bad_input(
    tmp_path: Path, demo_pdf: bytes, clinic: ClinicSigner
):
    path = sealed_file(tmp_path, demo_pdf, clinic)
    junk = tmp_path / "junk.pem"
    junk.write_text("-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")
    result = run("verify", path, "--trust", junk)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {junk}: not a certificate")


# --- intake verify --archive -------------------------------------------------------------------


@pytest.fixture
def archived(
    intake: Run, archive: Archive, catalog: FormCatalog, tmp_path: Path
) -> tuple[Path, str]:
    """A consent's PDF as the archive stored it, saved to a file; its id. `intake` reads the
    test app's settings."""
    data = json.loads(DEMO_PATH.read_text("utf-8"))
    consent_id = archive.submit(validate_submission(data, catalog), Actor())
    path = tmp_path / "from-the-archive.pdf"
    path.write_bytes(archive.pdf(consent_id))
    return path, consent_id


def test_a_consent_from_the_archive_matches_its_record(archived: tuple[Path, str], archive):
    path, consent_id = archived
    result = run("verify", path, "--archive")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"{path}: sealed by the clinic, unchanged since"
    stored = archive.get(consent_id).archived_at.date()
    assert f"  archive: matches consent {consent_id} (stored {stored})" in lines


def test_without_archive_the_archive_is_not_consulted(archived: tuple[Path, str]):
    path, _ = archived
    result = run("verify", path)
    assert result.exit_code == 0, result.output
    assert "archive" not in result.output.replace(str(path), "")


def test_a_changed_byte_also_fails_the_archive_check(archived: tuple[Path, str], archive):
    path, consent_id = archived
    data = bytearray(path.read_bytes())
    at = data.index(b"stream", data.index(b"/Contents")) + 40
    data[at] ^= 0x01
    path.write_bytes(bytes(data))
    result = run("verify", path, "--archive")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == f"{path}: NOT VERIFIED"
    assert "  problem: the content was changed after sealing" in result.output
    recorded = archive.get(consent_id).pdf_sha256
    assert (
        f"  problem: the file's SHA-256 {hashlib.sha256(data).hexdigest()} does not match the "
        f"archive's record for consent {consent_id} ({recorded})"
    ) in lines


def test_a_record_that_no_longer_matches_fails(archived: tuple[Path, str], archive):
    path, consent_id = archived
    with archive.transaction() as session:
        session.execute(update(Consent).where(Consent.id == consent_id).values(pdf_sha256="f" * 64))
    result = run("verify", path, "--archive")
    assert result.exit_code == 1
    problems = [line for line in result.output.splitlines() if "problem:" in line]
    assert problems == [
        f"  problem: the file's SHA-256 {hashlib.sha256(path.read_bytes()).hexdigest()} does "
        f"not match the archive's record for consent {consent_id} ({'f' * 64})"
    ]


def test_a_document_id_the_archive_does_not_know_fails(
    archived: tuple[Path, str], archive: Archive, demo_pdf: bytes, tmp_path: Path
):
    path = tmp_path / "elsewhere.pdf"
    path.write_bytes(seal_pdf(demo_pdf, archive.signer(), reason=f"document {DOC_ID}"))
    result = run("verify", path, "--archive")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert "  covers: the whole file, unchanged since sealing" in lines
    assert [line for line in lines if "problem:" in line] == [
        f"  problem: no consent in the archive has this document id ({DOC_ID})"
    ]


def test_an_unsealed_pdf_is_found_by_its_metadata(
    archived: tuple[Path, str], archive: Archive, catalog: FormCatalog, tmp_path: Path
):
    _, consent_id = archived
    consent = archive.get(consent_id)
    pdf = render_consent(
        catalog.get(consent.form_id),
        validate_submission(json.loads(consent.submission_json), catalog),
        document_id=consent_id,
    )
    path = tmp_path / "unsealed.pdf"
    path.write_bytes(pdf)
    result = run("verify", path, "--archive")
    assert result.exit_code == 1
    assert "problem: the file carries no seal" in result.output
    assert (
        f"  problem: the file's SHA-256 {hashlib.sha256(pdf).hexdigest()} does not match the "
        f"archive's record for consent {consent_id} ({consent.pdf_sha256})"
    ) in result.output.splitlines()


def test_a_pending_consent_has_no_pdf_to_match(
    archived: tuple[Path, str], archive: Archive, catalog: FormCatalog, tmp_path: Path
):
    submission = validate_submission(json.loads(DEMO_PATH.read_text("utf-8")), catalog)
    consent_id = archive.accept(submission, Actor())
    path = tmp_path / "pending.pdf"
    path.write_bytes(
        render_consent(catalog.get(submission.form_id), submission, document_id=consent_id)
    )
    result = run("verify", path, "--archive")
    assert result.exit_code == 1
    assert (
        f"  problem: consent {consent_id} is pending: the archive has no PDF of it yet"
        in result.output.splitlines()
    )


def test_a_file_that_names_no_document_id(archived: tuple[Path, str], tmp_path: Path):
    path = tmp_path / "junk.pdf"
    path.write_bytes(b"%PDF-1.7 nothing here")
    result = run("verify", path, "--archive")
    assert result.exit_code == 1
    assert (
        "  problem: the file names no document id: no consent in the archive to match"
        in result.output.splitlines()
    )


def test_the_archive_must_be_at_the_newest_schema(
    tmp_path: Path, demo_pdf: bytes, clinic: ClinicSigner, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/empty.sqlite3")
    path = sealed_file(tmp_path, demo_pdf, clinic)
    result = run("verify", path, "--archive")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: the archive database is at schema none")


# --- hostile files: a verdict, never a traceback --------------------------------------------


def nested_pdf(depth: int) -> bytes:
    """A small, well-formed PDF whose catalog holds `depth` arrays, each inside the one before."""
    head = b"%PDF-1.7\n"
    catalog = b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R /X " + b"[" * depth + b"]" * depth
    catalog += b" >>\nendobj\n"
    pages = b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n"
    xref_at = len(head + catalog + pages)
    xref = b"xref\n0 3\n0000000000 65535 f \n%010d 00000 n \n%010d 00000 n \n" % (
        len(head),
        len(head + catalog),
    )
    trailer = b"trailer\n<< /Size 3 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref_at
    return head + catalog + pages + xref + trailer


def intake_process(*args: str | Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The installed `intake` command in a process of its own, as a person runs it: what it
    prints on both streams, with Python's own last-resort logging in place."""
    command = Path(sys.executable).parent / "intake"
    return subprocess.run(
        [str(command), *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )


def test_a_pdf_of_200000_nested_arrays_gets_a_verdict(tmp_path: Path, certificates_dir: Path):
    path = tmp_path / "nested.pdf"
    path.write_bytes(nested_pdf(200_000))
    result = intake_process("verify", path, env={"CERTIFICATES_DIR": str(certificates_dir)})
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert "RecursionError" not in result.stdout + result.stderr
    assert f"{path}: NOT VERIFIED" in result.stdout
    assert "problem: not a readable PDF: its objects are nested too deeply" in result.stdout


def test_a_foreign_certificate_prints_no_pyhanko_traceback(
    tmp_path: Path, demo_pdf: bytes, clinic: ClinicSigner, certificates_dir: Path
):
    stranger = clinic_signer(tmp_path / "elsewhere")
    path = sealed_file(tmp_path, demo_pdf, stranger)
    result = intake_process("verify", path, env={"CERTIFICATES_DIR": str(certificates_dir)})
    assert result.returncode == 1
    assert result.stderr == ""
    assert "Traceback" not in result.stdout
    assert "problem: sealed with a certificate that is not the clinic's" in result.stdout
