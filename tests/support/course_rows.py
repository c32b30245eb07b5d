"""Helpers for the course's tests: patients and visits put straight into the archive's tables
(the bench seeds the same way, in bulk)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from intake.archive.course_models import VISIT_CHECKED_IN, Patient, Visit
from intake.archive.service import Archive


def add_patient(
    archive: Archive,
    name: str,
    *,
    next_due_on: date | None,
    doses_given: int = 0,
    consent_id: str | None = None,
    born: date | None = date(1980, 5, 17),
) -> str:
    with archive.transaction() as session:
        patient = Patient(
            legal_name=name,
            first_name=name.split()[0],
            date_of_birth=born,
            language="en",
            created_at=datetime(2026, 1, 5, 15, 0, tzinfo=UTC),
            first_consent_id=consent_id,
            last_entry_on=date(2026, 1, 5),
            next_due_on=next_due_on,
            doses_given=doses_given,
        )
        session.add(patient)
        session.flush()
        return patient.id


def add_visit(
    archive: Archive,
    patient_id: str,
    consent_id: str,
    *,
    status: str = VISIT_CHECKED_IN,
    needs_review: bool = False,
    started_at: datetime = datetime(2026, 12, 1, 15, 0, tzinfo=UTC),
) -> str:
    with archive.transaction() as session:
        visit = Visit(
            patient_id=patient_id,
            consent_id=consent_id,
            status=status,
            started_at=started_at,
            checked_in_at=started_at if status == VISIT_CHECKED_IN else None,
            flagged=needs_review,
            needs_review=needs_review,
        )
        session.add(visit)
        session.flush()
        return visit.id
