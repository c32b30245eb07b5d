"""A withdrawal recorded by a clinician for a patient who is not there to sign (signed on a
tablet: tests/test_withdrawal_tablet.py), sealed as a one-page record; the consent is no longer
current and the next due date is cleared. Both databases."""

from __future__ import annotations

import json
from datetime import date
from io import BytesIO

import pytest
from pypdf import PdfReader
from sqlalchemy import select, update

from intake.archive import patients
from intake.archive.course_models import Patient, Record, Withdrawal
from intake.archive.injections import NO_CONSENT, Injections, Refusal
from intake.archive.models import Consent
from tests.support.app import on_both_databases
from tests.support.course import PAD
from tests.support.course_rows import add_visit
from tests.support.pdf import words
from tests.support.staff import StaffActions, add_consent, events, make_staff

pytestmark = pytest.mark.usefixtures("fast_passwords")
app_config = pytest.fixture(on_both_databases, name="app_config")


@pytest.fixture
def clinician(archive, app) -> StaffActions:
    make_staff(archive, "clinician")
    actions = StaffActions(app.test_client())
    actions.login_as("clinician")
    return actions


@pytest.fixture
def consent(archive, demo_data) -> tuple[str, str]:
    """A sealed consent and its patient, who is due again on 2026-12-06."""
    consent_id = add_consent(archive, demo_data)
    with archive.transaction() as db:
        patient_id = db.get(Consent, consent_id).patient_id
        db.execute(
            update(Patient).where(Patient.id == patient_id).values(next_due_on=date(2026, 12, 6))
        )
    return consent_id, patient_id


def pdf_text(pdf: bytes) -> str:
    return words(" ".join(page.extract_text() for page in PdfReader(BytesIO(pdf)).pages))


def test_a_withdrawal_by_phone_is_sealed_and_ends_the_consent(archive, clinician, consent):
    consent_id, patient_id = consent
    page = clinician.client.get(f"/staff/patients/{patient_id}").text
    assert f"/staff/consents/{consent_id}/withdraw" in page
    form = clinician.client.get(f"/staff/consents/{consent_id}/withdraw")
    assert form.status_code == 200 and 'value="2026-' in form.text
    response = clinician.post(
        f"/staff/consents/{consent_id}/withdraw",
        {"withdrawn_on": "2026-11-30", "reason": "Stopping the treatment", "present": "absent"},
    )
    assert response.status_code == 302, response.text
    assert response.headers["Location"] == f"/staff/patients/{patient_id}"
    with archive.sessions() as db:
        row = db.scalar(select(Withdrawal).where(Withdrawal.consent_id == consent_id))
        record = db.get(Record, row.record_id)
        patient = db.get(Patient, patient_id)
        current = patients.current_consent(db, patient_id, archive.catalog, date(2026, 12, 1))
    assert row.withdrawn_on == date(2026, 11, 30) and not row.patient_signed
    assert record.kind == "withdrawal" and record.status == "archived"
    assert patient.next_due_on is None
    assert current.consent is None and current.reason == "withdrawn on 2026-11-30"
    assert archive.get(consent_id).withdrawn_at is not None
    assert [e.target for e in events(archive, "consent withdrawn")] == [consent_id]
    pdf = archive.records.pdf(record.id)
    assert archive.check(pdf).holds
    text = pdf_text(pdf)
    assert "Withdrawal of consent" in text and "Stopping the treatment" in text
    assert "not present to sign" in text and "Clara Clinician" in text
    assert len(PdfReader(BytesIO(pdf)).pages) == 1
    shown = clinician.client.get(f"/staff/patients/{patient_id}").text
    assert "withdrawn on Nov 30, 2026" in shown and "No current consent" in shown
    consent_page = clinician.client.get(f"/staff/consents/{consent_id}").text
    assert "The patient withdrew this consent" in consent_page
    download = clinician.client.get(f"/staff/consents/{consent_id}/withdrawal.pdf")
    assert download.status_code == 200 and download.data == pdf
    again = clinician.post(
        f"/staff/consents/{consent_id}/withdraw",
        {"withdrawn_on": "2026-11-30", "reason": "Twice", "present": "absent"},
    )
    assert again.status_code in (200, 422) and "withdrawn already" in again.text
    with archive.sessions() as db:
        assert db.query(Withdrawal).count() == 1


def test_the_clinicians_screen_takes_no_signature(archive, clinician, consent):
    """The patient signs on an enrolled tablet (tests/test_withdrawal_tablet.py), never on the
    clinician's screen: a pad posted here is no choice of tablet, and nothing is recorded."""
    consent_id, _ = consent
    page = clinician.client.get(f"/staff/consents/{consent_id}/withdraw").text
    assert "data-pad" not in page and "signature-pad.js" not in page
    response = clinician.post(
        f"/staff/consents/{consent_id}/withdraw",
        {
            "withdrawn_on": "2026-12-01",
            "reason": "Moving away",
            "present": "signs",
            "signature": json.dumps(PAD),
        },
    )
    assert response.status_code == 422 and "That tablet is not enrolled" in response.text
    with archive.sessions() as db:
        assert db.query(Withdrawal).count() == 0 and db.query(Record).count() == 0


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"reason": ""}, "Write why the patient withdrew."),
        ({"withdrawn_on": "2099-01-01"}, "Withdrawn on cannot be after today."),
        ({"withdrawn_on": "2020-01-01"}, "cannot be before the consent was signed"),
        ({"withdrawn_on": "2026-02-30"}, "Withdrawn on must be a real date"),
        ({"present": "signs"}, "That tablet is not enrolled"),
    ],
)
def test_bad_input_is_named_at_its_field_and_nothing_is_recorded(
    archive, clinician, consent, fields, message
):
    consent_id, _ = consent
    sent = {"withdrawn_on": "2026-11-30", "reason": "Feels better", "present": "absent", **fields}
    response = clinician.post(f"/staff/consents/{consent_id}/withdraw", sent)
    assert response.status_code == 422 and message in response.text
    if fields.get("reason") != "":
        assert "Feels better" in response.text, "the other entries are kept"
    with archive.sessions() as db:
        assert db.query(Withdrawal).count() == 0 and db.query(Record).count() == 0
    assert archive.get(consent_id).withdrawn_at is None


def test_the_front_desk_cannot_record_a_withdrawal(archive, desk, consent):
    consent_id, patient_id = consent
    assert (
        f"/staff/consents/{consent_id}/withdraw"
        not in desk.client.get(f"/staff/patients/{patient_id}").text
    )
    response = desk.post(
        f"/staff/consents/{consent_id}/withdraw",
        {"withdrawn_on": "2026-11-30", "reason": "x", "present": "absent"},
    )
    assert response.status_code == 403


def test_no_injection_can_be_recorded_under_a_withdrawn_consent(archive, clinician, consent):
    consent_id, patient_id = consent
    visit_id = add_visit(archive, patient_id, consent_id)
    injections = Injections(archive)
    assert not [
        r
        for r in injections.situation(visit_id, date(2026, 12, 1)).refusals
        if r.code == NO_CONSENT
    ]
    clinician.post(
        f"/staff/consents/{consent_id}/withdraw",
        {"withdrawn_on": "2026-11-30", "reason": "Stopping", "present": "absent"},
    )
    refusals = injections.situation(visit_id, date(2026, 12, 1)).refusals
    assert Refusal(NO_CONSENT, "withdrawn on 2026-11-30") in refusals
