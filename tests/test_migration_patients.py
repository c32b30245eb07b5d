"""Migration 0008 on a populated archive: every existing consent becomes the first consent of a
patient of its own (never two joined), on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime

from alembic import command
from sqlalchemy import MetaData, select

from intake.archive.course_models import Patient, PatientName
from intake.archive.db import make_engine
from intake.archive.migrate import alembic_config, upgrade
from intake.archive.models import Consent, new_id
from intake.archive.patients import first_name_of
from intake.definition import FormCatalog
from intake.submission import validate_submission
from tests.support.app import FORMS_DIR, demo_submission
from tests.support.staff import patient

BEFORE = "0007_audit_checkpoint"


def consent_row(data: dict, *, status: str = "archived") -> dict:
    """A consents row as the app wrote it at revision 0007."""
    submission = validate_submission(data, FormCatalog(FORMS_DIR))
    deleted = status == "deleted"
    return {
        "id": new_id(),
        "status": status,
        "form_id": submission.form_id,
        "form_version": "1.0",
        "form_sha256": "0" * 64,
        "created_at": datetime(2025, 6, 1, 12, 0),
        "signed_at": submission.signed_at.isoformat(),
        "signed_on": submission.signed_at.date(),
        "legal_name": "" if deleted else submission.patient.legal_name,
        "date_of_birth": None if deleted else submission.patient.date_of_birth,
        "is_minor": False,
        "flagged": False,
        "needs_review": False,
        "submission_json": None if deleted else submission.canonical_json(),
        "submission_sha256": hashlib.sha256(submission.canonical_json()).hexdigest(),
        "pdf_sha256": None if deleted else "1" * 64,
    }


def test_existing_consents_become_their_patients_first_consents(database_url: str):
    command.upgrade(alembic_config(database_url), BEFORE)
    demo = demo_submission()
    zoe = consent_row(demo)
    zoe_again = consent_row(dict(demo, signed_at="2026-11-30T09:00:00-06:00"))
    liam = consent_row(
        patient(demo, "Liam Smith", born="1990-01-02", signed_at="2024-05-06T10:00:00-05:00")
    )
    liam_data = patient(demo, "Liam Smith", born="1990-01-02")
    liam_data["patient"]["email"] = ""
    no_email = consent_row(liam_data, status="pending")
    gone = consent_row(demo, status="deleted")
    rows = [zoe, zoe_again, liam, no_email, gone]
    engine = make_engine(database_url)
    try:
        tables = MetaData()
        tables.reflect(engine, only=["consents"])
        with engine.begin() as connection:
            connection.execute(tables.tables["consents"].insert(), rows)
        upgrade(database_url)
        with engine.connect() as connection:
            owners = dict(connection.execute(select(Consent.id, Consent.patient_id)).all())
            found = {p.first_consent_id: p for p in connection.execute(select(Patient)).all()}
            words = connection.execute(select(PatientName.patient_id, PatientName.word)).all()
    finally:
        engine.dispose()
    assert owners[gone["id"]] is None, "a deleted consent keeps no patient data"
    assert set(found) == {r["id"] for r in rows if r is not gone}
    assert len({owners[r["id"]] for r in rows if r is not gone}) == 4, "never joined"
    first = found[zoe["id"]]
    assert owners[zoe["id"]] == first.id
    assert (first.legal_name, first.date_of_birth) == ("Zoë O'Brien", date(1985, 4, 12))
    assert first.first_name == first_name_of("Zoë O'Brien", demo["patient"]["preferred_name"])
    assert first.phone == demo["patient"]["phone"] and first.email == demo["patient"]["email"]
    assert first.address == demo["patient"]["address"] and first.language == "en"
    assert first.last_entry_on == date(2026, 11, 29) and first.doses_given == 0
    assert first.created_at.replace(tzinfo=UTC) == datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    assert found[zoe_again["id"]].last_entry_on == date(2026, 11, 30)
    assert found[liam["id"]].first_name == "Liam", "no preferred name: the first word"
    assert found[no_email["id"]].email is None
    assert sorted(w for pid, w in words if pid == first.id) == ["obrien", "zoe"]
    assert sorted(w for pid, w in words if pid == found[liam["id"]].id) == ["liam", "smith"]


def test_many_consents_are_filed_in_batches(database_url: str):
    """More consents than one batch: each gets its patient."""
    command.upgrade(alembic_config(database_url), BEFORE)
    template = consent_row(demo_submission())
    rows = [dict(template, id=new_id()) for _ in range(1203)]
    engine = make_engine(database_url)
    try:
        tables = MetaData()
        tables.reflect(engine, only=["consents"])
        with engine.begin() as connection:
            connection.execute(tables.tables["consents"].insert(), rows)
        upgrade(database_url)
        with engine.connect() as connection:
            owners = [pid for (pid,) in connection.execute(select(Consent.patient_id))]
            count = connection.execute(select(Patient.id)).all()
    finally:
        engine.dispose()
    assert None not in owners and len(set(owners)) == 1203 == len(count)
