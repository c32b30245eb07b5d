"""PDF/A-3b: every clause of ISO 19005-3 that applies (tests/support/pdfa.py), one by one, on
archived consents (both databases, sealed), on a consent in Chinese, Japanese and Korean, and on
the preview; each check shown to fail on a file that breaks it; the seal still valid over it."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pikepdf
import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from pypdf import PdfReader

from intake.archive.audit import Actor
from intake.archive.service import Archive
from intake.certificates import clinic_signer
from intake.pdf import pdfa, render_consent
from intake.pdf.metadata import ATTACHMENT_NAME
from intake.pdf.render import PREVIEW_MARK
from intake.pdf.seal import seal_pdf
from intake.submission import validate_submission
from tests.support.app import demo_submission, on_both_databases
from tests.support.pdf import pdf_words, words
from tests.support.pdfa import REQUIREMENTS, problems
from tests.support.pdftools import all_warnings, pdffonts_rows

app_config = pytest.fixture(on_both_databases, name="app_config")

TABLET = Actor(ip="192.0.2.7", user_agent="Tablet")
CLAUSES = list(REQUIREMENTS)
CJK_NAME = "山田太郎"
CJK_ALLERGIES = "김민준 こんにちは、ペニシリン。青霉素过敏"


@pytest.fixture
def archived(archive: Archive, catalog, demo_data) -> bytes:
    return archive.pdf(archive.submit(validate_submission(demo_data, catalog), TABLET))


@pytest.fixture(scope="module")
def sealed_cjk(catalog, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A consent with Chinese, Japanese and Korean answers, sealed as the archive seals."""
    data = demo_submission()
    data["patient"]["preferred_name"] = CJK_NAME
    data["health"]["allergies"] = CJK_ALLERGIES
    submission = validate_submission(data, catalog)
    clinic = clinic_signer(tmp_path_factory.mktemp("certificates"))
    pdf = render_consent(catalog.get(submission.form_id), submission, seal=clinic.certificate)
    return seal_pdf(pdf, clinic, reason="cjk")


def test_an_archived_consent_meets_every_clause(archived: bytes, archive: Archive):
    """On both databases: each clause's problems, all none."""
    assert {clause: problems(archived, clause) for clause in CLAUSES} == {
        clause: [] for clause in CLAUSES
    }


def test_a_minors_archived_consent_meets_every_clause(archive: Archive, catalog, minor):
    pdf = archive.pdf(archive.submit(validate_submission(minor, catalog), TABLET))
    assert {clause: problems(pdf, clause) for clause in CLAUSES} == {
        clause: [] for clause in CLAUSES
    }


@pytest.mark.parametrize("clause", CLAUSES)
def test_a_sealed_consent_in_chinese_japanese_and_korean_meets(clause: str, sealed_cjk: bytes):
    assert problems(sealed_cjk, clause) == []


@pytest.mark.parametrize("clause", CLAUSES)
def test_the_preview_meets(clause: str, demo_pdf: bytes):
    assert problems(demo_pdf, clause) == []


def test_the_cjk_text_is_in_an_embedded_font_and_reads_back(sealed_cjk: bytes, tmp_path: Path):
    path = tmp_path / "cjk.pdf"
    path.write_bytes(sealed_cjk)
    rows = pdffonts_rows(path)
    assert any(row["name"].split("+")[-1].startswith("WenQuanYiMicroHei") for row in rows)
    assert all(row["emb"] == "yes" for row in rows)
    assert all_warnings(path) == {"qpdf --check": [], "pdfinfo": [], "pdffonts": []}
    text = pdf_words(sealed_cjk)
    assert CJK_NAME in text and words(CJK_ALLERGIES) in text


def test_the_seal_is_valid_over_the_pdfa_file_and_appends_to_it(archived: bytes, archive):
    (signature,) = PdfFileReader(io.BytesIO(archived)).embedded_signatures
    trusted = [archive.signer().certificate.asn1]
    status = validate_pdf_signature(signature, ValidationContext(trust_roots=trusted))
    assert status.intact and status.valid and status.trusted
    assert status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    # The revision sealed is the PDF/A file as rendered: it claims PDF/A-3b on its own.
    signed_revision = archived[: signature.byte_range[1]]
    with pikepdf.open(io.BytesIO(archived[: signed_revision.rindex(b"%%EOF") + 6])) as doc:
        assert doc.open_metadata().pdfa_status == "3B"


def test_the_attachment_is_the_documents_associated_data(archived: bytes, demo_data):
    with pikepdf.open(io.BytesIO(archived)) as doc:
        (spec,) = doc.Root.AF
        assert spec.AFRelationship == pikepdf.Name.Data
        assert str(spec.UF) == str(spec.F) == ATTACHMENT_NAME
        stream = spec.EF.F
        assert stream.Subtype == pikepdf.Name("/application/json")
        params = stream.Params
        assert params.ModDate == params.CreationDate == doc.docinfo.CreationDate
        assert json.loads(stream.read_bytes()) == demo_data


def test_the_output_intent_is_the_debian_srgb_profile(archived: bytes):
    with pikepdf.open(io.BytesIO(archived)) as doc:
        (intent,) = doc.Root.OutputIntents
        assert intent.DestOutputProfile.read_bytes() == pdfa.SRGB_PROFILE.read_bytes()
        assert str(intent.OutputConditionIdentifier) == "sRGB IEC61966-2.1"


def test_no_patient_data_in_the_metadata_of_an_archived_consent(archived: bytes, demo_data):
    with pikepdf.open(io.BytesIO(archived)) as doc:
        everything = json.dumps({k: str(v) for k, v in doc.docinfo.items()})
        everything += doc.Root.Metadata.read_bytes().decode()
        (spec,) = doc.Root.AF
        everything += str(spec.get("/Desc")) + str(spec.UF)
    patient = demo_data["patient"]
    for value in ("Zoë", "O'Brien", "O&apos;Brien", patient["date_of_birth"], "555 010", "zoe@"):
        assert value not in everything


def test_the_preview_keeps_its_marks(demo_pdf: bytes):
    pages = PdfReader(io.BytesIO(demo_pdf)).pages
    assert all(PREVIEW_MARK in page.extract_text() for page in pages)


def test_the_patients_encrypted_copy_no_longer_claims_pdfa(demo_pdf: bytes, tmp_path: Path):
    clinic = clinic_signer(tmp_path / "certificates")
    copy = seal_pdf(demo_pdf, clinic, reason="x", password="246810")
    with pikepdf.open(io.BytesIO(copy), password="246810") as doc:
        assert doc.open_metadata().pdfa_status == ""


# --- each check can fail --------------------------------------------------------------------


def rewritten(pdf: bytes, change) -> bytes:
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        change(doc)
        out = io.BytesIO()
        doc.save(out, fix_metadata_version=False)
    return out.getvalue()


def no_output_intent(doc: pikepdf.Pdf) -> None:
    del doc.Root.OutputIntents


def an_unembedded_font(doc: pikepdf.Pdf) -> None:
    font = pikepdf.Dictionary(
        Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica
    )
    doc.pages[0].Resources.Font.FX = doc.make_indirect(font)


def a_title_the_xmp_does_not_say(doc: pikepdf.Pdf) -> None:
    doc.docinfo.Title = "Another title"


def no_claim(doc: pikepdf.Pdf) -> None:
    with doc.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False) as xmp:
        del xmp["pdfaid:part"]


def not_associated(doc: pikepdf.Pdf) -> None:
    del doc.Root.AF


def a_hidden_annotation(doc: pikepdf.Pdf) -> None:
    annot = pikepdf.Dictionary(
        Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Square, Rect=[10, 10, 50, 50], F=2
    )
    doc.pages[0].Annots = doc.make_indirect(pikepdf.Array([doc.make_indirect(annot)]))


def javascript(doc: pikepdf.Pdf) -> None:
    action = pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS="app.alert(1)")
    doc.Root.OpenAction = doc.make_indirect(action)


def an_untyped_metadata_stream(doc: pikepdf.Pdf) -> None:
    del doc.Root.Metadata.Subtype


def cmyk_paint(doc: pikepdf.Pdf) -> None:
    doc.pages[0].contents_add(doc.make_stream(b"0 0 0 1 k 0 0 5 5 re f"), prepend=False)


def an_xmp_schema_of_our_own(doc: pikepdf.Pdf) -> None:
    with doc.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False) as xmp:
        xmp.register_xml_namespace("https://clinic.example/ns/", "clinic")
        xmp["{https://clinic.example/ns/}form"] = "b12"


@pytest.mark.parametrize(
    "change, clause",
    [
        (no_output_intent, "6.2.2 output intent"),
        (an_unembedded_font, "6.2.11.4 fonts embedded"),
        (a_title_the_xmp_does_not_say, "6.6.2.3 document information matches XMP"),
        (no_claim, "6.6.4 PDF/A identification"),
        (not_associated, "6.8 embedded files"),
        (a_hidden_annotation, "6.3 annotations"),
        (javascript, "6.5 actions"),
        (an_untyped_metadata_stream, "6.6.2.1 metadata stream"),
        (cmyk_paint, "6.2.4.3 device colour"),
        (an_xmp_schema_of_our_own, "6.6.2.1 metadata stream"),
    ],
)
def test_each_check_fails_on_a_file_that_breaks_it(change, clause: str, demo_pdf: bytes):
    assert problems(rewritten(demo_pdf, change), clause) != []


def test_an_encrypted_file_breaks_the_trailer_clause(demo_pdf: bytes):
    with pikepdf.open(io.BytesIO(demo_pdf)) as doc:
        out = io.BytesIO()
        doc.save(out, encryption=pikepdf.Encryption(owner="o", user="", R=6))
    assert problems(out.getvalue(), "6.1.3 file trailer") != []
