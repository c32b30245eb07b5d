"""Course test helpers: an archived consent with its patient, an enrolled tablet, a check-in."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from intake.archive.audit import Actor
from intake.archive.course_models import VISIT, VISIT_OPEN, Patient, Visit
from intake.archive.models import Consent
from intake.archive.service import Archive
from intake.archive.tablets import Tablets
from intake.archive.visits import visit_body
from intake.checkin import CheckIn, validate_checkin
from intake.definition import ConsentDefinition
from intake.submission import validate_submission
from tests.support.app import demo_submission

TABLET = Actor(ip="192.0.2.7", user_agent="Tablet")
CLINIC_TZ = timezone(timedelta(hours=-5))
#: A signature as the pad sends it: two strokes across most of the pad.
PAD = {
    "width": 600,
    "height": 200,
    "strokes": [[[20, 150], [120, 40], [220, 160], [320, 50]], [[340, 120], [560, 110]]],
}


def consent_with_patient(archive: Archive, **patient: Any) -> tuple[str, str]:
    """Submit the demo consent (its patient changed by `patient`); its id and its patient's."""
    data = demo_submission()
    data["patient"].update(patient)
    if "legal_name" in patient:
        data["signature"]["typed_name"] = patient["legal_name"]
    consent_id = archive.submit(validate_submission(data, archive.catalog), TABLET)
    with archive.transaction() as session:
        consent = session.get(Consent, consent_id)
        assert consent is not None
        if consent.patient_id is None:
            found = Patient(
                legal_name=consent.legal_name,
                first_name=data["patient"].get("preferred_name") or consent.legal_name.split()[0],
                date_of_birth=consent.date_of_birth,
                created_at=archive.clock(),
                first_consent_id=consent.id,
                last_entry_on=consent.signed_on,
            )
            session.add(found)
            session.flush()
            consent.patient_id = found.id
        return consent_id, consent.patient_id


def enrolled_tablet(archive: Archive, name: str = "Front desk 1") -> str:
    return Tablets(archive).enrol_directly(name, TABLET, enrolled_by=None).tablet.id


def checkin_data(definition: ConsentDefinition, **answers: Any) -> dict[str, Any]:
    """A check-in's data: "no" to every question unless `answers` says otherwise (a bool, or a
    dict with `yes`, `tier`, `items`)."""
    given = {}
    for question in definition.visit_screening:
        answer = answers.get(question.id, False)
        given[question.id] = answer if isinstance(answer, dict) else {"yes": answer}
    return {
        "answers": given,
        "signature": PAD,
        "signed_at": datetime(2026, 12, 1, 10, 15, tzinfo=CLINIC_TZ).isoformat(),
    }


def checkin(definition: ConsentDefinition, **answers: Any) -> CheckIn:
    return validate_checkin(checkin_data(definition, **answers), definition)


DEVICE = {"user_agent": "Mozilla/5.0 (iPad)", "ip": "192.0.2.7"}


def visit_record(archive: Archive, *, yes: bool = False) -> dict[str, Any]:
    """A visit row, open on an enrolled tablet, and the body of its check-in."""
    consent_id, patient_id = consent_with_patient(archive, legal_name="Zoë O'Brien")
    tablet_id = enrolled_tablet(archive)
    definition = archive.catalog.get("b12-methylcobalamin")
    with archive.transaction() as session:
        visit = Visit(
            patient_id=patient_id,
            consent_id=consent_id,
            status=VISIT_OPEN,
            started_at=archive.clock(),
            device_id=tablet_id,
        )
        session.add(visit)
        session.flush()
        patient = session.get(Patient, patient_id)
        consent = session.get(Consent, consent_id)
        answers = {"reaction_after_last": {"yes": True, "tier": "mild", "items": []}} if yes else {}
        body = visit_body(
            visit,
            patient,
            consent,
            definition,
            checkin(definition, **answers),
            "Front desk 1",
            DEVICE,
        )
    return {"body": body, "patient_id": patient_id, "consent_id": consent_id}


def submit_record(archive: Archive, made: dict[str, Any], **kwargs: Any) -> str:
    return archive.records.submit(
        VISIT,
        made["body"],
        patient_id=made["patient_id"],
        consent_id=made["consent_id"],
        actor=TABLET,
        **kwargs,
    )
