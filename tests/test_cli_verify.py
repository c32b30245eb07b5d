"""`intake verify`: a plain-language verdict on a seal; exit 0 when it holds, 1 when not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from intake.certificates import ClinicSigner, clinic_signer
from intake.cli import main
from intake.config import PROJECT_ROOT, Config
from intake.definition import FormCatalog
from intake.pdf import render_consent
from intake.pdf.seal import seal_pdf
from intake.submission import validate_submission

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
    folder = Config().folder("CERTIFICATES_DIR")
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
