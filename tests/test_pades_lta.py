"""PAdES B-LTA against a real test PKI on loopback (certomancer: CA certificates, OCSP, CRLs,
time-stamping authorities; tests/support/pki.py): sealed by the archive on both databases,
checked with the PKI's server stopped; a certificate revoked after signing; a timestamp chain
renewed twice; and the level `intake verify` names, with why it is below what settings ask."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from certomancer.registry import CertLabel
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESPassed
from pyhanko.sign.general import SigningError
from pyhanko.sign.validation.ades import ades_lta_validation
from pyhanko_certvalidator.errors import RevokedError

from intake.archive.audit import Actor
from intake.archive.models import PENDING
from intake.archive.service import Archive
from intake.certificates import clinic_signer, kept_certificates, kept_roots
from intake.pdf import ltv
from intake.pdf.seal import check_seal, seal_pdf
from intake.submission import validate_submission
from tests.support.pdfa import REQUIREMENTS, problems
from tests.support.pki import P12_PASSWORD, LoopbackPki, serve_pki
from tests.test_pdf_seal import append_author_change

TABLET = Actor(ip="192.0.2.7", user_agent="Tablet")


@pytest.fixture
def pki(tmp_path: Path) -> Iterator[LoopbackPki]:
    with serve_pki(tmp_path / "pki") as served:
        yield served


@pytest.fixture
def app_config(app_config, database_url, pki: LoopbackPki, request):
    """The app on both databases (`database_url`), sealing with the PKI's certificate (the
    indirect parameter names which, `clinic` unless given) and its TSA."""
    label = getattr(request, "param", "clinic")
    return {
        **app_config,
        "DATABASE_URL": database_url,
        "SIGNING_P12": pki.p12(label),
        "SIGNING_P12_PASSWORD": P12_PASSWORD,
        "TSA_URL": pki.tsa_url(),
    }


def archived(archive: Archive, catalog, demo_data) -> bytes:
    return archive.pdf(archive.submit(validate_submission(demo_data, catalog), TABLET))


def offline_lta(pdf: bytes, pki: LoopbackPki) -> AdESPassed:
    signature = PdfFileReader(io.BytesIO(pdf)).embedded_regular_signatures[-1]
    spec = ltv._offline_spec([pki.certificate("root")])
    return asyncio.run(ades_lta_validation(signature, spec)).ades_subindic


def test_a_seal_is_b_lta_and_holds_with_the_pki_offline(archive: Archive, catalog, demo_data, pki):
    pdf = archived(archive, catalog, demo_data)
    pki.stop()
    report = archive.check(pdf)
    assert report.problems == [] and report.level == "B-LTA"
    assert ("level", "PAdES B-LTA") in report.facts
    assert offline_lta(pdf, pki) == AdESPassed.OK
    reader = PdfFileReader(io.BytesIO(pdf))
    assert len(reader.embedded_timestamp_signatures) == 1


def test_the_b_lta_seal_keeps_the_file_pdfa(archive: Archive, catalog, demo_data):
    pdf = archived(archive, catalog, demo_data)
    assert {clause: problems(pdf, clause) for clause in REQUIREMENTS} == {
        clause: [] for clause in REQUIREMENTS
    }


def test_the_chain_is_kept_for_offline_checks(archive: Archive, catalog, demo_data, pki):
    archived(archive, catalog, demo_data)
    folder = archive.settings.certificates_dir
    assert [root.dump() for root in kept_roots(folder)] == [pki.certificate("root").dump()]
    # The CA certificates are kept apart: they are not certificates the clinic sealed with.
    assert [c.subject for c in kept_certificates(folder)] == [
        "CN=Clinic consent seal,O=Clinic Test PKI,C=US"
    ]


def test_a_change_after_the_document_timestamp_is_caught(archive, catalog, demo_data, pki):
    pdf = archived(archive, catalog, demo_data)
    pki.stop()
    for changed in (pdf + b"\n% appended\n", append_author_change(pdf)):
        report = archive.check(changed)
        assert any("changed after sealing" in p for p in report.problems)


@pytest.mark.parametrize("app_config", ["revoked"], indirect=True)
def test_a_certificate_revoked_after_signing_still_proves_the_seal(
    archive: Archive, catalog, demo_data, pki
):
    pdf = archived(archive, catalog, demo_data)
    time.sleep(3.5)  # the certificate is revoked three seconds after the PKI starts
    assert pki.arch.check_revocation_status(CertLabel("revoked"), datetime.now(UTC)) is not None
    pki.stop()
    report = archive.check(pdf)
    assert report.problems == [] and report.level == "B-LTA"
    assert offline_lta(pdf, pki) == AdESPassed.OK


def test_a_certificate_revoked_before_sealing_is_refused(tmp_path: Path, demo_pdf: bytes):
    with serve_pki(tmp_path / "pki", revoked_in=-timedelta(days=1)) as pki:
        clinic = clinic_signer(
            tmp_path / "certificates", p12=pki.p12("revoked"), p12_password=P12_PASSWORD
        )
        with pytest.raises(SigningError, match="could not be validated") as refused:
            seal_pdf(demo_pdf, clinic, reason="x", timestamper_url=pki.tsa_url())
    assert isinstance(refused.value.__cause__, RevokedError)


@pytest.mark.parametrize("app_config", ["revoked"], indirect=True)
def test_revoked_before_sealing_leaves_the_consent_pending(archive, catalog, demo_data, pki):
    time.sleep(3.5)  # the certificate is revoked three seconds after the PKI starts
    consent_id = archive.submit(validate_submission(demo_data, catalog), TABLET)
    consent = archive.get(consent_id)
    assert consent.status == PENDING and consent.last_error


def test_a_timestamp_chain_renewed_twice_holds_offline(tmp_path: Path, demo_pdf: bytes):
    with serve_pki(tmp_path / "pki", tsa_days=20) as pki:
        folder = tmp_path / "certificates"
        clinic = clinic_signer(folder, p12=pki.p12(), p12_password=P12_PASSWORD)
        sealed = seal_pdf(demo_pdf, clinic, reason="x", timestamper_url=pki.tsa_url("tsa"))
        first_expiry = ltv.last_timestamp_expiry(sealed)
        renewed = ltv.add_archival_timestamp(sealed, pki.tsa_url("tsa2"), clinic.roots)
        twice = ltv.add_archival_timestamp(renewed, pki.tsa_url("tsa3"), clinic.roots)
        pki.stop()
    assert twice.startswith(renewed) and renewed.startswith(sealed)
    reader = PdfFileReader(io.BytesIO(twice))
    assert len(reader.embedded_timestamp_signatures) == 3
    assert ltv.last_timestamp_expiry(twice) > first_expiry + timedelta(days=365)
    report = check_seal(twice, kept_certificates(folder), roots=kept_roots(folder))
    assert report.problems == [] and report.level == "B-LTA"
    assert offline_lta(twice, pki) == AdESPassed.OK


def test_levels_below_lta_and_why(tmp_path: Path, demo_pdf: bytes):
    with serve_pki(tmp_path / "pki") as pki:
        self_signed = clinic_signer(tmp_path / "self")
        b_t = seal_pdf(demo_pdf, self_signed, reason="x", timestamper_url=pki.tsa_url())
    b_b = seal_pdf(demo_pdf, self_signed, reason="x")
    trusted = [self_signed.certificate]
    assert check_seal(b_b, trusted, roots=[]).level == "B-B"
    report = check_seal(b_t, trusted, roots=[])
    assert report.level == "B-T" and report.holds
    assert report.short_of == ["the file carries no validation data (no OCSP answer or CRL)"]
    assert ltv.expected_level(ca_certificate=False, timestamp_authority=True)[0] == "B-T"
    assert ltv.expected_level(ca_certificate=True, timestamp_authority=True) == ("B-LTA", "")
    assert ltv.expected_level(ca_certificate=True, timestamp_authority=False)[0] == "B-B"


def test_intake_verify_names_the_level(
    archive, catalog, demo_data, pki, intake, monkeypatch, tmp_path
):
    pdf_path = tmp_path / "consent.pdf"
    pdf_path.write_bytes(archived(archive, catalog, demo_data))
    monkeypatch.setenv("SIGNING_P12", str(archive.settings.signing_p12))
    monkeypatch.setenv("TSA_URL", pki.tsa_url())
    pki.stop()
    result = intake("verify", pdf_path)
    assert result.exit_code == 0, result.output
    assert "  level: PAdES B-LTA\n" in result.output
    assert "note:" not in result.output


def test_intake_verify_says_why_a_seal_is_below_what_settings_ask(
    demo_pdf: bytes, intake, monkeypatch, tmp_path: Path, app, pki
):
    folder = Path(app.config["CERTIFICATES_DIR"])
    self_signed = clinic_signer(folder)
    path = tmp_path / "b-t.pdf"
    path.write_bytes(seal_pdf(demo_pdf, self_signed, reason="x", timestamper_url=pki.tsa_url()))
    monkeypatch.setenv("TSA_URL", pki.tsa_url())
    result = intake("verify", path)
    assert result.exit_code == 0, result.output
    assert "  level: PAdES B-T\n" in result.output
    assert "note: B-T is the most these settings give: the self-signed certificate" in (
        result.output
    )
    monkeypatch.setenv("SIGNING_P12", str(pki.p12()))
    result = intake("verify", path)
    assert (
        "note: the settings ask for B-LTA, the seal is B-T: the file carries no validation data"
        in result.output
    )


def test_the_patients_encrypted_copy_is_b_lta_too(tmp_path: Path, demo_pdf: bytes):
    with serve_pki(tmp_path / "pki") as pki:
        folder = tmp_path / "certificates"
        clinic = clinic_signer(folder, p12=pki.p12(), p12_password=P12_PASSWORD)
        copy = seal_pdf(
            demo_pdf, clinic, reason="x", timestamper_url=pki.tsa_url(), password="246810"
        )
    report = check_seal(
        copy, kept_certificates(folder), password="246810", roots=kept_roots(folder)
    )
    assert report.problems == [] and report.level == "B-LTA"
