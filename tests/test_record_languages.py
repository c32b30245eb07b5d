"""The course records' one-page PDFs speak the patient's language, as their consent does: a
Spanish patient's visit check-in, injection and withdrawal have Spanish labels, title, footer
and `/Lang`, read back with pypdf, PDF/A-3b by every clause checked, and qpdf, pdfinfo and
pdffonts find nothing. An English patient's stay English."""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta
from pathlib import Path

import pikepdf
import pytest
from pypdf import PdfReader
from sqlalchemy import select

from intake.archive.audit import Actor
from intake.archive.course_models import VISIT, Injection, Patient, Visit, Withdrawal
from intake.archive.lots import Lots, NewLot
from intake.archive.models import Consent
from intake.archive.visits import visit_body
from intake.languages import date_in_words
from tests.support.course import DEVICE, TABLET, checkin, enrolled_tablet
from tests.support.course_rows import add_visit
from tests.support.devices import plain_browser
from tests.support.pdf import words
from tests.support.pdfa import REQUIREMENTS, problems
from tests.support.pdftools import all_warnings
from tests.support.staff import PASSWORD, StaffActions, add_consent, make_staff

pytestmark = pytest.mark.usefixtures("fast_passwords")
FORM = "b12-methylcobalamin"


@pytest.fixture
def clinician(app, archive) -> StaffActions:
    make_staff(archive, "clinician")
    actions = StaffActions(plain_browser(app))
    actions.login_as("clinician")
    return actions


def spanish_consent(archive, demo_data, language: str = "es") -> tuple[str, str]:
    consent_id = add_consent(archive, {**demo_data, "language": language})
    consent = archive.get(consent_id)
    assert consent.language == language and consent.patient_id is not None
    return consent_id, consent.patient_id


def bare_iso_days(text: str) -> list[str]:
    """The ISO days a record writes for a reader (not beside a date in words, in parentheses,
    nor as the exact moment after "·")."""
    return re.findall(r"(?<!\()(?<!· )\b\d{4}-\d{2}-\d{2}\b", text)


def text_of(pdf: bytes) -> str:
    return words(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages))


def assert_a_clean_record(pdf: bytes, tmp_path: Path, language: str) -> None:
    """One page, sealed, PDF/A-3b, in `language`, and the PDF tools silent."""
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 1
    assert {clause: problems(pdf, clause) for clause in REQUIREMENTS} == {
        clause: [] for clause in REQUIREMENTS
    }
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        assert str(doc.Root.Lang) == {"es": "es-US", "en": "en-US"}[language]
    path = tmp_path / "record.pdf"
    path.write_bytes(pdf)
    assert all_warnings(path) == {"qpdf --check": [], "pdfinfo": [], "pdffonts": []}


def visit_pdf(archive, consent_id: str, patient_id: str) -> bytes:
    language = archive.get(consent_id).language
    definition = archive.catalog.get(FORM, language)
    tablet_id = enrolled_tablet(archive)
    with archive.transaction() as session:
        visit = Visit(
            patient_id=patient_id,
            consent_id=consent_id,
            status="open",
            started_at=archive.clock(),
            device_id=tablet_id,
        )
        session.add(visit)
        session.flush()
        answers = {"reaction_after_last": {"yes": True, "tier": "mild", "items": []}}
        body = visit_body(
            visit,
            session.get(Patient, patient_id),
            session.get(Consent, consent_id),
            definition,
            checkin(definition, **answers),
            "Front desk 1",
            DEVICE,
        )
    record_id = archive.records.submit(
        VISIT, body, patient_id=patient_id, consent_id=consent_id, actor=TABLET
    )
    return archive.records.pdf(record_id)


def test_a_spanish_patients_check_in_record_is_in_spanish(archive, demo_data, tmp_path):
    consent_id, patient_id = spanish_consent(archive, demo_data)
    pdf = visit_pdf(archive, consent_id, patient_id)
    assert archive.check(pdf).holds
    text = text_of(pdf)
    for expected in (
        "Registro de llegada de la visita",
        "Requiere revisión clínica: 1 respuesta(s) abajo.",
        "Paciente",
        "Fecha de nacimiento",
        "Firma del paciente",
        "Sí · ALTO",
        "Se basa en el consentimiento",
        "SHA-256 del PDF del consentimiento",
        "adjuntos a este PDF como record.json",
        f"Se basa en el consentimiento {consent_id}",
        "Fecha de nacimiento 12 de abril de 1985 (1985-04-12)",
    ):
        assert expected in text, expected
    assert bare_iso_days(text) == []
    for english in ("Visit check-in", "Patient signature", "Relies on consent", "Date of birth"):
        assert english not in text, english
    assert_a_clean_record(pdf, tmp_path, "es")


def test_an_english_patients_check_in_record_stays_english(archive, demo_data, tmp_path):
    consent_id, patient_id = spanish_consent(archive, demo_data, "en")
    text = text_of(visit_pdf(archive, consent_id, patient_id))
    assert "Visit check-in" in text and f"Relies on consent {consent_id}" in text
    assert "Registro de llegada" not in text


def test_a_spanish_patients_injection_and_withdrawal_records_are_in_spanish(
    archive, clinician, demo_data, tmp_path
):
    consent_id, patient_id = spanish_consent(archive, demo_data)
    visit_id = add_visit(archive, patient_id, consent_id)
    today = datetime.now().astimezone().date()
    lot = Lots(archive).add(
        NewLot("Metilcobalamina inyectable", "1 mg/ml", "Farmacia Hillside", "B12-041",
               today + timedelta(days=200)),
        Actor(),
        today=today,
    ).id  # fmt: skip
    done = clinician.post(
        f"/staff/visits/{visit_id}/injection",
        {
            "lot_id": lot,
            "dose_mg": "1",
            "volume_ml": "1",
            "site": "gluteal-right",
            "given_at": datetime.now().astimezone().strftime("%Y-%m-%dT%H:%M"),
            "notes": "Bien tolerada",
            "reaction": "none",
            "reaction_action": "",
            "override_reason": "",
            "password": PASSWORD,
            "code": "",
        },
    )
    assert done.status_code == 302, done.text
    with archive.sessions() as db:
        record_id = db.scalars(select(Injection.record_id)).one()
    pdf = archive.records.pdf(record_id)
    assert archive.check(pdf).holds
    text = text_of(pdf)
    for expected in (
        "Registro de la inyección",
        "Firma electrónica del clínico",
        "glúteo derecho",
        "1 mg en 1 ml, IM",
        "lote B12-041",
        "Ninguna observada",
        "Clara Clinician confirmó este registro con su contraseña como firma electrónica.",
        f"Se basa en el consentimiento {consent_id}",
        "(nacimiento: 12 de abril de 1985)",
        f"caduca el {date_in_words(today + timedelta(days=200), 'es')}",
        f"Aplicada {date_in_words(today, 'es')}, ",
    ):
        assert expected in text, expected
    assert bare_iso_days(text) == []
    for english in ("Injection record", "right gluteal", "None observed", "Relies on consent"):
        assert english not in text, english
    assert_a_clean_record(pdf, tmp_path, "es")

    withdrawn = clinician.post(
        f"/staff/consents/{consent_id}/withdraw",
        {"withdrawn_on": today.isoformat(), "reason": "Se muda", "present": "absent"},
    )
    assert withdrawn.status_code == 302, withdrawn.text
    with archive.sessions() as db:
        record_id = db.scalar(select(Withdrawal.record_id))
    pdf = archive.records.pdf(record_id)
    assert archive.check(pdf).holds
    text = text_of(pdf)
    for expected in (
        "Revocación del consentimiento",
        "El paciente no estaba presente para firmar: lo registró el personal.",
        "No se puede administrar ninguna otra inyección con este consentimiento.",
        "Revocado el",
        "Motivo",
        "Se muda",
        "Fecha de nacimiento 12 de abril de 1985 (1985-04-12)",
        "firmado el 29 de noviembre de 2026,",
        f"Revocado el {date_in_words(today, 'es')}",
    ):
        assert expected in text, expected
    assert bare_iso_days(text) == []
    assert "Withdrawal of consent" not in text and "Reason" not in text
    assert_a_clean_record(pdf, tmp_path, "es")
