"""The consent PDF in the language the patient read: the form's text from its translation, the
PDF's own labels from the catalog, dates as the language writes them, the language and its
text's SHA-256 on the signing record, and the document language (`/Lang`)."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from pypdf import PdfReader

from intake.definition import FormCatalog
from intake.pdf import render_consent
from intake.submission import validate_submission
from tests.support.app import B12, DEMO_DOCUMENT_ID
from tests.support.pdf import pdf_words, words
from tests.test_pdf_render import consent_phrases


def rendered(data: dict[str, Any], catalog: FormCatalog, language: str) -> bytes:
    if language != "en":
        data = {**data, "language": language}
    submission = validate_submission(data, catalog)
    definition = catalog.get(submission.form_id, submission.language)
    return render_consent(definition, submission, document_id=DEMO_DOCUMENT_ID)


@pytest.fixture(scope="module")
def spanish_pdf() -> bytes:
    from tests.support.app import FORMS_DIR, demo_submission

    return rendered(demo_submission(), FormCatalog(FORMS_DIR), "es")


@pytest.fixture(scope="module")
def spanish_text(spanish_pdf: bytes) -> str:
    return pdf_words(spanish_pdf)


def test_every_word_of_the_spanish_consent_is_in_its_pdf(spanish_text: str, catalog):
    missing = [p for p in consent_phrases(catalog.get(B12, "es")) if words(p) not in spanish_text]
    assert missing == []


@pytest.mark.parametrize(
    "phrase",
    [
        # The seed's benefits, the three tiers with what to do, the schedule, in Spanish.
        "Aumenta la energía",
        "Refuerza el sistema inmunitario",
        "Combate el estrés y la irritabilidad",
        "Efectos secundarios leves y posibles riesgos",
        "Requieren atención médica inmediata",
        "Es una emergencia: llame al 911 de inmediato",
        "una vez por semana durante 4 semanas y luego una vez al mes",
        # The PDF's own labels.
        "Datos del paciente",
        "Antecedentes de salud",
        "Preguntas de evaluación",
        "Confirmaciones",
        "Firma del paciente",
        "Registro de la firma",
        "Qué hacer:",
        "Página 1 de",
        "VISTA PREVIA — no es un consentimiento firmado",
        # Dates as Spanish writes them; the date of birth in words beside the typed date.
        "Fecha de nacimiento 12 de abril de 1985 (1985-04-12)",
        "29 de noviembre de 2026, 10:15:00 (UTC-05:00)",
    ],
)
def test_the_spanish_pdf_speaks_spanish(spanish_text: str, phrase: str):
    assert words(phrase) in spanish_text


def test_the_signing_record_names_the_language_and_its_text_hash(spanish_pdf: bytes, catalog):
    record = words(PdfReader(io.BytesIO(spanish_pdf)).pages[-1].extract_text())
    assert "Idioma Español (es-US)" in record
    es = catalog.get(B12, "es")
    assert words(f"SHA-256 del texto {es.sha256}") in record
    assert catalog.get(B12).sha256 not in record
    for english in ("Signing record", "Signed by", "Patient details"):
        assert english not in record


def test_the_english_pdf_names_english(demo_pdf: bytes, catalog):
    record = PdfReader(io.BytesIO(demo_pdf)).pages[-1].extract_text()
    assert "Language English (en-US)" in record
    assert f"Form text SHA-256 {catalog.get(B12).sha256}" in record
    assert "Date of birth April 12, 1985 (1985-04-12)" in pdf_words(demo_pdf)


@pytest.mark.parametrize(("fixture", "tag"), [("spanish_pdf", "es-US"), ("demo_pdf", "en-US")])
def test_the_document_language_is_set(request, fixture: str, tag: str):
    reader = PdfReader(io.BytesIO(request.getfixturevalue(fixture)))
    assert reader.trailer["/Root"]["/Lang"] == tag
    assert reader.xmp_metadata.dc_language == [tag]


def test_a_language_the_form_has_no_text_in_is_refused(catalog, demo_data):
    from intake.submission import SubmissionInvalid

    with pytest.raises(SubmissionInvalid) as caught:
        validate_submission({**demo_data, "language": "fr"}, catalog)
    assert [str(e) for e in caught.value.errors] == [
        "language: is not a language of this form (en, es)"
    ]


def test_intake_render_writes_a_spanish_submission_in_spanish(intake, demo_data, tmp_path):
    source = tmp_path / "es.json"
    source.write_text(json.dumps({**demo_data, "language": "es"}), "utf-8")
    out = tmp_path / "es.pdf"
    result = intake("render", "--input", source, "--out", out)
    assert result.exit_code == 0, result.output
    text = pdf_words(out.read_bytes())
    assert "Registro de la firma" in text and "Aumenta la energía" in text
