"""Round trips through the seal: render the demo consent, seal it, read it back with pyHanko's own
validator and with `check_seal`, then tamper with it and check that every change is named."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from asn1crypto import keys as asn1_keys
from asn1crypto import tsp
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.timestamps import DummyTimeStamper
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from pypdf import PdfReader, PdfWriter

from intake.certificates import ClinicCertificate, ClinicSigner, clinic_signer
from intake.config import PROJECT_ROOT
from intake.definition import ConsentDefinition, FormCatalog
from intake.pdf import render_consent
from intake.pdf.metadata import ATTACHMENT_NAME, keywords_document_id, parse_document_id
from intake.pdf.seal import (
    SEAL_FIELD,
    SealReport,
    check_seal,
    document_id,
    seal_pdf,
    seal_reason,
)
from intake.submission import validate_submission
from tests.support.app import DEMO_DOCUMENT_ID
from tests.support.certificates import make_timestamp_authority

DEMO_PATH = PROJECT_ROOT / "intake" / "demo_submission.json"
DOC_ID = DEMO_DOCUMENT_ID
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def clinic(tmp_path_factory: pytest.TempPathFactory) -> ClinicSigner:
    return clinic_signer(tmp_path_factory.mktemp("certificates"), clinic_name="Test Clinic")


@pytest.fixture(scope="module")
def stranger(tmp_path_factory: pytest.TempPathFactory) -> ClinicSigner:
    """Another party's certificate, made the same way: a look-alike that must not pass."""
    return clinic_signer(tmp_path_factory.mktemp("elsewhere"), clinic_name="Test Clinic")


@pytest.fixture(scope="module")
def reason(definition: ConsentDefinition) -> str:
    return seal_reason(definition, DOC_ID)


@pytest.fixture(scope="module")
def sealed(demo_pdf: bytes, clinic: ClinicSigner, reason: str) -> bytes:
    return seal_pdf(demo_pdf, clinic, reason=reason)


def pyhanko_status(
    pdf: bytes, *roots: ClinicCertificate, password: str | None = None
) -> PdfSignatureStatus:
    """pyHanko's own verdict on the file's one signature, trusting only `roots`."""
    reader = PdfFileReader(io.BytesIO(pdf))
    if password is not None:
        reader.decrypt(password)
    (signature,) = reader.embedded_signatures
    context = ValidationContext(trust_roots=[r.asn1 for r in roots], allow_fetching=False)
    return validate_pdf_signature(signature, signer_validation_context=context)


# --- a sealed consent --------------------------------------------------------------------------


def test_reason_names_the_form_version_and_document(definition: ConsentDefinition):
    assert seal_reason(definition, DOC_ID) == (
        f"Consent {definition.id} version {definition.version}, document {DOC_ID}"
    )


def test_pyhanko_validates_the_seal(sealed: bytes, clinic: ClinicSigner):
    status = pyhanko_status(sealed, clinic.certificate)
    assert status.bottom_line
    assert status.intact and status.valid and status.trusted
    assert status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    assert status.md_algorithm == "sha256"


def test_the_seal_is_pades_with_the_reason(sealed: bytes, clinic: ClinicSigner, reason: str):
    (signature,) = PdfFileReader(io.BytesIO(sealed)).embedded_signatures
    assert signature.field_name == SEAL_FIELD
    assert signature.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    assert signature.sig_object["/Reason"] == reason
    signer = ClinicCertificate.of(x509.load_der_x509_certificate(signature.signer_cert.dump()))
    assert signer == clinic.certificate


def test_the_seal_names_its_certificate_by_sha256(sealed: bytes, clinic: ClinicSigner):
    """The signing-certificate-v2 attribute (made once per signer, read back for each seal) is
    the one pyHanko builds for the certificate: its SHA-256, issuer and serial number."""
    from pyhanko.sign.general import as_signing_certificate_v2

    (signature,) = PdfFileReader(io.BytesIO(sealed)).embedded_signatures
    attributes = {a["type"].native: a for a in signature.signer_info["signed_attrs"]}
    (value,) = attributes["signing_certificate_v2"]["values"]
    cert = clinic.signer.signing_cert
    assert value.dump() == as_signing_certificate_v2(cert).dump()
    (named,) = value["certs"]
    assert named["cert_hash"].native.hex() == clinic.certificate.sha256.lower()
    assert named["issuer_serial"]["serial_number"].native == cert.serial_number
    assert set(attributes) == {"content_type", "message_digest", "signing_certificate_v2"}


def test_sealing_appends_to_the_rendered_file(demo_pdf: bytes, sealed: bytes):
    """The seal is a last incremental revision: the rendered bytes are untouched before it."""
    assert sealed.startswith(demo_pdf)
    reader = PdfReader(io.BytesIO(sealed))
    assert "Zoë O'Brien" in reader.pages[0].extract_text()
    assert ATTACHMENT_NAME in reader.attachments


def test_check_seal_holds_and_says_what_it_checked(
    sealed: bytes, clinic: ClinicSigner, reason: str
):
    report = check_seal(sealed, [clinic.certificate])
    assert report.problems == []
    facts = dict(report.facts)
    assert facts["sealed with"] == (
        f"{clinic.certificate.subject} (SHA-256 {clinic.certificate.sha256})"
    )
    assert facts["reason"] == reason
    assert facts["covers"] == "the whole file, unchanged since sealing"
    assert "timestamp" not in facts


def last_page_lines(pdf: bytes) -> list[str]:
    return PdfReader(io.BytesIO(pdf)).pages[-1].extract_text().splitlines()


def test_signing_record_names_the_sealing_certificate(
    catalog: FormCatalog, clinic: ClinicSigner, reason: str
):
    submission = validate_submission(json.loads(DEMO_PATH.read_text("utf-8")), catalog)
    pdf = render_consent(
        catalog.get(submission.form_id),
        submission,
        document_id=DOC_ID,
        seal=clinic.certificate,
    )
    lines = last_page_lines(pdf)
    assert lines[0] == "Signing record"
    assert "Sealed with" in "\n".join(lines)
    assert clinic.certificate.subject in " ".join(lines)
    # The fingerprint stays on one line, so it can be read out and compared by eye.
    assert any(
        line.endswith(clinic.certificate.sha256) and "Certificate SHA-256" in line for line in lines
    )
    sealed = seal_pdf(pdf, clinic, reason=reason)
    assert pyhanko_status(sealed, clinic.certificate).bottom_line


def test_signing_record_without_a_certificate_is_unchanged(demo_pdf: bytes):
    text = "\n".join(last_page_lines(demo_pdf))
    assert "Signing record" in text
    assert "Sealed with" not in text and "Certificate SHA-256" not in text


# --- tampering, each with its reason -----------------------------------------------------------


def flip_a_byte_in_the_body(pdf: bytes) -> bytes:
    """One bit of the first page's content stream changed: the file still opens."""
    at = pdf.index(b"stream", pdf.index(b"/Contents")) + 40
    return pdf[:at] + bytes([pdf[at] ^ 0x01]) + pdf[at + 1 :]


def append_author_change(pdf: bytes) -> bytes:
    """An incremental update that puts another name in the document information."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    info = writer.trailer["/Info"]
    info["/Author"] = generic.TextStringObject("Someone Else")
    writer.update_container(info)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def append_name_on_page(pdf: bytes) -> bytes:
    """An incremental update that paints over the patient's name and writes another."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    font = generic.DictionaryObject(
        {
            pdf_name("/Type"): pdf_name("/Font"),
            pdf_name("/Subtype"): pdf_name("/Type1"),
            pdf_name("/BaseFont"): pdf_name("/Helvetica"),
        }
    )
    content = b"q 1 1 1 rg 180 560 250 40 re f Q BT /FX 10 Tf 185 575 Td (Someone Else) Tj ET"
    stream = writer.add_object(generic.StreamObject(stream_data=content))
    resources = generic.DictionaryObject(
        {pdf_name("/Font"): generic.DictionaryObject({pdf_name("/FX"): font})}
    )
    writer.add_stream_to_page(0, stream, resources=resources)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def rewrite_without_the_seal(pdf: bytes) -> bytes:
    """Every page copied into a new file: same look, no signature."""
    writer = PdfWriter()
    for page in PdfReader(io.BytesIO(pdf)).pages:
        writer.add_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("tamper", "problem"),
    [
        (flip_a_byte_in_the_body, "the content was changed after sealing"),
        (append_author_change, "the file was changed after sealing"),
        (append_name_on_page, "the file was changed after sealing"),
        (rewrite_without_the_seal, "the file carries no seal"),
    ],
)
def test_tampering_is_named(tamper, problem: str, sealed: bytes, clinic: ClinicSigner):
    report = check_seal(tamper(sealed), [clinic.certificate])
    assert not report.holds
    assert any(p.startswith(problem) for p in report.problems), report.problems


def test_pyhanko_sees_a_byte_flipped(sealed: bytes, clinic: ClinicSigner):
    status = pyhanko_status(flip_a_byte_in_the_body(sealed), clinic.certificate)
    assert not status.intact
    assert not status.bottom_line


@pytest.mark.parametrize("tamper", [append_author_change, append_name_on_page])
def test_pyhanko_sees_an_update_after_the_seal(tamper, sealed: bytes, clinic: ClinicSigner):
    status = pyhanko_status(tamper(sealed), clinic.certificate)
    assert status.intact  # the sealed revision itself is untouched...
    assert status.coverage == SignatureCoverageLevel.ENTIRE_REVISION  # ...but is not the file


def test_the_updates_really_change_the_name(sealed: bytes):
    assert PdfReader(io.BytesIO(append_author_change(sealed))).metadata.author == "Someone Else"
    page = PdfReader(io.BytesIO(append_name_on_page(sealed))).pages[0]
    assert "Someone Else" in page.extract_text()


def test_the_added_bytes_are_counted(sealed: bytes, clinic: ClinicSigner):
    changed = append_author_change(sealed)
    (problem,) = check_seal(changed, [clinic.certificate]).problems
    assert f"{len(changed) - len(sealed)} bytes added after the sealed part" in problem


def test_an_unsealed_pdf_fails(demo_pdf: bytes, clinic: ClinicSigner):
    report = check_seal(demo_pdf, [clinic.certificate])
    assert report.problems == [
        "the file carries no seal: it was never sealed, or the seal was removed"
    ]


def test_not_a_pdf_fails(clinic: ClinicSigner):
    report = check_seal(b"%PDF-1.7\nnot really", [clinic.certificate])
    assert report.problems[0].startswith("not a readable PDF")


def test_sealed_by_another_certificate_fails(
    demo_pdf: bytes, clinic: ClinicSigner, stranger: ClinicSigner, reason: str
):
    forged = seal_pdf(demo_pdf, stranger, reason=reason)
    report = check_seal(forged, [clinic.certificate])
    assert report.problems == [
        "sealed with a certificate that is not the clinic's: "
        f"{stranger.certificate.subject} (SHA-256 {stranger.certificate.sha256})"
    ]
    status = pyhanko_status(forged, clinic.certificate)
    assert status.intact and not status.trusted
    assert check_seal(forged, [stranger.certificate]).holds


# --- a timestamp from a local authority --------------------------------------------------------


@pytest.fixture(scope="module")
def timestamp_authority() -> Iterator[tuple[str, ClinicCertificate]]:
    """An RFC 3161 authority over HTTP on 127.0.0.1, answering with pyHanko's testing stamper."""
    certificate, key = make_timestamp_authority()
    stamper = DummyTimeStamper(
        tsa_cert=ClinicCertificate.of(certificate).asn1,
        tsa_key=asn1_keys.PrivateKeyInfo.load(
            key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        ),
    )

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            request = tsp.TimeStampReq.load(self.rfile.read(int(self.headers["Content-Length"])))
            body = stamper.request_tsa_response(request).dump()
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the test output is for failures."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/", ClinicCertificate.of(certificate)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_timestamp_is_added_when_a_tsa_is_set(
    demo_pdf: bytes, clinic: ClinicSigner, reason: str, timestamp_authority
):
    url, authority = timestamp_authority
    before = datetime.now(UTC).replace(microsecond=0)
    stamped = seal_pdf(demo_pdf, clinic, reason=reason, timestamper_url=url)

    status = pyhanko_status(stamped, clinic.certificate, authority)
    assert status.bottom_line
    assert status.timestamp_validity is not None
    assert status.timestamp_validity.trusted
    assert status.timestamp_validity.timestamp >= before

    report = check_seal(stamped, [clinic.certificate])
    assert report.holds
    assert "Loopback timestamp authority" in dict(report.facts)["timestamp"]


# --- an encrypted copy for the patient ---------------------------------------------------------


@pytest.fixture(scope="module")
def encrypted(demo_pdf: bytes, clinic: ClinicSigner, reason: str) -> bytes:
    return seal_pdf(demo_pdf, clinic, reason=reason, password=PASSWORD)


def test_the_copy_is_aes_256_revision_6(encrypted: bytes):
    reader = PdfFileReader(io.BytesIO(encrypted))
    assert reader.encrypted
    encryption = reader.trailer["/Encrypt"]
    assert (encryption["/V"], encryption["/R"]) == (5, 6)
    assert encryption["/CF"]["/StdCF"]["/CFM"] == "/AESV3"
    assert b"Zo\xc3\xab" not in encrypted


def test_the_copy_opens_with_the_password(encrypted: bytes):
    reader = PdfReader(io.BytesIO(encrypted))
    assert reader.decrypt(PASSWORD)
    assert "Zoë O'Brien" in reader.pages[0].extract_text()
    assert ATTACHMENT_NAME in reader.attachments


def test_the_seal_of_the_encrypted_copy_validates(encrypted: bytes, clinic: ClinicSigner):
    status = pyhanko_status(encrypted, clinic.certificate, password=PASSWORD)
    assert status.bottom_line
    assert status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    assert check_seal(encrypted, [clinic.certificate], password=PASSWORD).holds


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        (None, "the file is encrypted: give its password with --password"),
        ("wrong", "the password does not open this file"),
    ],
)
def test_the_encrypted_copy_needs_its_password(
    encrypted: bytes, clinic: ClinicSigner, password: str | None, problem: str
):
    assert check_seal(encrypted, [clinic.certificate], password=password).problems == [problem]


# --- the document id a file names --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"Consent b12 version 3, document {DOC_ID}", DOC_ID),
        (f"consent; b12; version 3; {DOC_ID}", DOC_ID),
        (f"  document {DOC_ID.replace('-', '').upper()}  ", DOC_ID.replace("-", "").upper()),
        (f"document {DOC_ID} and more", None),
        ("document 1234", None),
        ("", None),
    ],
)
def test_parse_document_id(text: str, expected: str | None):
    assert parse_document_id(text) == expected


def test_the_document_id_is_read_from_the_seal_reason(sealed: bytes, clinic: ClinicSigner):
    report = check_seal(sealed, [clinic.certificate])
    assert document_id(sealed, report) == DOC_ID


def test_an_unsealed_pdf_names_its_document_id_in_its_keywords(demo_pdf: bytes):
    assert keywords_document_id(demo_pdf) == DOC_ID
    assert document_id(demo_pdf, SealReport()) == DOC_ID


def test_the_seal_reason_comes_before_the_keywords(demo_pdf: bytes):
    other = "a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d"
    report = SealReport(facts=[("reason", f"document {other}")])
    assert document_id(demo_pdf, report) == other


def test_an_encrypted_copy_names_its_document_id_with_its_password(encrypted: bytes):
    assert keywords_document_id(encrypted, PASSWORD) == DOC_ID
    assert keywords_document_id(encrypted) is None


def test_a_file_that_is_no_pdf_names_no_document_id():
    assert document_id(b"%PDF-1.7 nothing here", SealReport()) is None
