"""The clinic certificate: made once and reused, loaded from PKCS#12, and kept when replaced."""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from intake.certificates import (
    CURRENT_SEAL,
    CertificateError,
    ClinicCertificate,
    certificate_files,
    clinic_signer,
    is_certificate_file,
    kept_certificates,
    read_certificate,
    restore_certificate_file,
)
from intake.pdf.seal import check_seal, seal_pdf
from tests.support.certificates import P12_PASSWORD, make_p12


def test_self_signed_is_made_once_and_reused(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO, logger="intake.certificates")
    first = clinic_signer(tmp_path, clinic_name="Skin Heaven Medical Spa")
    second = clinic_signer(tmp_path, clinic_name="Skin Heaven Medical Spa")
    assert first.certificate == second.certificate
    assert first.certificate.subject == (
        "O=Skin Heaven Medical Spa,CN=Skin Heaven Medical Spa consent seal"
    )
    assert (tmp_path / CURRENT_SEAL).stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [CURRENT_SEAL, f"{first.certificate.sha256}.pem"]
    )
    made = [r for r in caplog.records if "self-signed" in r.getMessage()]
    assert len(made) == 1
    assert first.certificate.sha256 in made[0].getMessage()


def test_self_signed_is_a_document_seal_that_outlives_its_consents(tmp_path: Path):
    certificate = clinic_signer(tmp_path).certificate.certificate
    usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment and not usage.key_cert_sign
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    assert lifetime > timedelta(days=365 * 31)


def test_fingerprint_is_the_sha256_of_the_certificate(tmp_path: Path):
    certificate = clinic_signer(tmp_path).certificate
    der = certificate.certificate.public_bytes(serialization.Encoding.DER)
    assert certificate.sha256 == hashlib.sha256(der).hexdigest()


def test_a_p12_is_used_and_kept(tmp_path: Path):
    p12 = tmp_path / "clinic.p12"
    expected = ClinicCertificate.of(make_p12(p12))
    signer = clinic_signer(tmp_path / "certificates", p12=p12, p12_password=P12_PASSWORD)
    assert signer.certificate == expected
    assert kept_certificates(tmp_path / "certificates") == [expected]
    assert not (tmp_path / "certificates" / CURRENT_SEAL).exists()


@pytest.mark.parametrize(
    ("password", "problem"),
    [("wrong", "not a PKCS#12 file, or the wrong password"), ("", "not a PKCS#12 file")],
)
def test_a_p12_with_the_wrong_password_is_refused(tmp_path: Path, password: str, problem: str):
    p12 = tmp_path / "clinic.p12"
    make_p12(p12)
    with pytest.raises(CertificateError, match=problem):
        clinic_signer(tmp_path / "certificates", p12=p12, p12_password=password)


def test_a_missing_p12_is_refused(tmp_path: Path):
    with pytest.raises(CertificateError, match="cannot read"):
        clinic_signer(tmp_path, p12=tmp_path / "missing.p12")


def test_a_replaced_certificate_keeps_old_consents_verifiable(tmp_path: Path, demo_pdf: bytes):
    folder = tmp_path / "certificates"
    first = clinic_signer(folder)
    old = seal_pdf(demo_pdf, first, reason="sealed with the first certificate")

    p12 = tmp_path / "clinic.p12"
    make_p12(p12)
    second = clinic_signer(folder, p12=p12, p12_password=P12_PASSWORD)
    new = seal_pdf(demo_pdf, second, reason="sealed with its replacement")

    (folder / CURRENT_SEAL).unlink()
    third = clinic_signer(folder)
    newest = seal_pdf(demo_pdf, third, reason="sealed with a new self-signed certificate")

    kept = kept_certificates(folder)
    assert {c.sha256 for c in kept} == {s.certificate.sha256 for s in (first, second, third)}
    for pdf in (old, new, newest):
        assert check_seal(pdf, kept).holds


def test_no_folder_keeps_nothing(tmp_path: Path):
    assert kept_certificates(tmp_path / "never-made") == []


def test_read_certificate_takes_pem_and_der(tmp_path: Path):
    certificate = clinic_signer(tmp_path / "certificates").certificate
    pem, der = tmp_path / "clinic.pem", tmp_path / "clinic.cer"
    pem.write_bytes(certificate.pem)
    der.write_bytes(certificate.certificate.public_bytes(serialization.Encoding.DER))
    assert read_certificate(pem) == read_certificate(der) == certificate
    junk = tmp_path / "junk.cer"
    junk.write_bytes(b"\x30\x03junk")
    with pytest.raises(CertificateError, match="not a certificate"):
        read_certificate(junk)


def test_certificate_files_are_every_kept_file(tmp_path: Path):
    signer = clinic_signer(tmp_path)
    assert [p.name for p in certificate_files(tmp_path)] == sorted(
        [CURRENT_SEAL, f"{signer.certificate.sha256}.pem"]
    )
    assert is_certificate_file(CURRENT_SEAL)
    assert not is_certificate_file("../current-seal.pem")
    assert not is_certificate_file("notes.txt")


def test_restoring_keeps_a_different_self_signed_certificate_trusted(tmp_path: Path):
    backed_up = clinic_signer(tmp_path / "then")
    here = clinic_signer(tmp_path / "now")
    data = (tmp_path / "then" / CURRENT_SEAL).read_bytes()
    restore_certificate_file(tmp_path / "now", CURRENT_SEAL, data)
    assert (tmp_path / "now" / CURRENT_SEAL).read_bytes() == data
    kept = {c.sha256 for c in kept_certificates(tmp_path / "now")}
    assert here.certificate.sha256 in kept
    name = f"{backed_up.certificate.sha256}.pem"
    restore_certificate_file(tmp_path / "now", name, (tmp_path / "then" / name).read_bytes())
    assert {c.sha256 for c in kept_certificates(tmp_path / "now")} == kept | {
        backed_up.certificate.sha256
    }
