"""Possible matches shown side by side, confirmed or kept apart by a clinician; an admin's merge
of any two records with a reason; where a merged record went. Both databases."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, update

from intake.archive import patient_match
from intake.archive.audit import Actor
from intake.archive.course_models import VISIT_OPEN, Injection, Lot, Patient, PatientName, Visit
from intake.archive.models import Consent
from intake.archive.patient_match import (
    BIRTH_AND_WORD,
    NAME,
    NAME_AND_BIRTH,
    MergeRefused,
)
from tests.support.app import on_both_databases
from tests.support.staff import StaffActions, add_consent, events, links, make_staff, patient

pytestmark = pytest.mark.usefixtures("fast_passwords")
app_config = pytest.fixture(on_both_databases, name="app_config")


@pytest.fixture
def clinician(archive, app) -> StaffActions:
    make_staff(archive, "clinician")
    actions = StaffActions(app.test_client())
    actions.login_as("clinician")
    return actions


def new_patient(archive, demo_data, name: str, born: str, signed_at: str | None = None) -> str:
    data = patient(demo_data, name, born=born, signed_at=signed_at)
    consent_id = add_consent(archive, data, seal=False)
    with archive.sessions() as db:
        return db.get(Consent, consent_id).patient_id


def row(archive, patient_id: str) -> Patient:
    with archive.sessions() as db:
        return db.get(Patient, patient_id)


def matches(archive, patient_id: str) -> list[tuple[str, str]]:
    return [(m.patient.id, m.basis) for m in patient_match.matches_of(archive, patient_id)]


def test_what_looks_like_the_same_person(archive, demo_data):
    first = new_patient(archive, demo_data, "Ana García", "1972-07-30")
    same = new_patient(archive, demo_data, "ANA GARCIA", "1972-07-30")
    longer = new_patient(archive, demo_data, "Ana María García", "1980-01-01")
    nickname = new_patient(archive, demo_data, "Annie García", "1972-07-30")
    other = new_patient(archive, demo_data, "Liam Smith", "1972-07-30")
    assert matches(archive, same) == [
        (first, NAME_AND_BIRTH),
        (longer, NAME),
        (nickname, BIRTH_AND_WORD),
    ]
    assert (first, NAME) in matches(archive, longer)
    assert matches(archive, other) == [], "a date of birth alone is no match"


def test_the_front_desk_sees_a_possible_match_but_cannot_decide(archive, desk, demo_data):
    first = new_patient(archive, demo_data, "Ana García", "1972-07-30")
    second = new_patient(archive, demo_data, "Ana Garcia", "1972-07-30")
    page = desk.client.get(f"/staff/patients/{second}").text
    assert "Possibly the same person as another record" in page
    assert "Same name and date of birth." in page and f"/staff/patients/{first}" in links(page)
    assert page.count("Jul 30, 1972") >= 2, "both dates of birth, side by side"
    assert "A clinician confirms" in page and f"/staff/patients/{second}/same/{first}" not in page
    assert desk.post(f"/staff/patients/{second}/same/{first}").status_code == 403
    assert desk.post(f"/staff/patients/{second}/apart/{first}").status_code == 403
    with archive.sessions() as db:
        consent_id = db.scalar(select(Consent.id).where(Consent.patient_id == second))
    consent_page = desk.client.get(f"/staff/consents/{consent_id}").text
    assert "Possibly the same person as Ana García, born Jul 30, 1972" in consent_page


def test_a_clinician_confirms_and_the_newer_record_merges_into_the_older(
    archive, clinician, demo_data
):
    older = new_patient(archive, demo_data, "Ana García", "1972-07-30", "2026-01-05T10:00:00-06:00")
    newer = new_patient(archive, demo_data, "Ana Garcia Lopez", "1972-07-30")
    page = clinician.client.get(f"/staff/patients/{older}").text
    assert f"/staff/patients/{older}/same/{newer}" in links(page)
    response = clinician.post(f"/staff/patients/{older}/same/{newer}")
    assert response.status_code == 302 and response.headers["Location"].endswith(older)
    merged, kept = row(archive, newer), row(archive, older)
    assert merged.merged_into == older and merged.merged_by is not None
    assert merged.merge_reason == (
        "Staff confirmed a possible match: the same name and date of birth."
    )
    assert kept.merged_into is None and kept.last_entry_on == date(2026, 11, 29)
    with archive.sessions() as db:
        owners = set(db.scalars(select(Consent.patient_id)))
        words = set(db.scalars(select(PatientName.word).where(PatientName.patient_id == older)))
        left = db.scalars(select(PatientName).where(PatientName.patient_id == newer)).all()
    assert owners == {older} and "lopez" in words and left == []
    assert [e.target for e in events(archive, "patients merged")] == [newer]
    # The merged record's address keeps working and says where it went.
    gone = clinician.client.get(f"/staff/patients/{newer}")
    assert gone.status_code == 200 and "This record was merged into another" in gone.text
    assert f"/staff/patients/{older}" in links(gone.text)
    assert "Clara Clinician" in gone.text
    here = clinician.client.get(f"/staff/patients/{older}").text
    assert "Records merged into this one" in here and "Possibly the same person" not in here
    clinician.post("/staff/patients/search", {"name": "lopez"})
    listed = clinician.client.get("/staff/patients").text
    assert f"/staff/patients/{older}" in links(listed)
    assert f"/staff/patients/{newer}" not in links(listed)


def test_not_the_same_person_is_not_offered_again(archive, clinician, desk, demo_data):
    first = new_patient(archive, demo_data, "Ana García", "1972-07-30")
    second = new_patient(archive, demo_data, "Ana García", "1972-07-30")
    response = clinician.post(f"/staff/patients/{second}/apart/{first}")
    assert response.status_code == 302
    assert matches(archive, second) == [] and matches(archive, first) == []
    assert "Possibly the same person" not in desk.client.get(f"/staff/patients/{first}").text
    assert [e.target for e in events(archive, "patients kept apart")] == [second]
    again = clinician.post(f"/staff/patients/{second}/same/{first}", follow_redirects=True)
    assert "no longer offered as a match" in again.text
    assert row(archive, second).merged_into is None


def test_an_admin_merges_any_two_records_with_a_reason(archive, admin, demo_data):
    maiden = new_patient(archive, demo_data, "Ana García", "1972-07-30")
    married = new_patient(archive, demo_data, "Ana Novak", "1972-03-07")
    with archive.transaction() as db:
        consent_id = db.scalar(select(Consent.id).where(Consent.patient_id == married))
        db.add(
            Visit(
                id="a" * 32,
                patient_id=married,
                consent_id=consent_id,
                status=VISIT_OPEN,
                started_at=datetime(2026, 12, 1, tzinfo=UTC),
            )
        )
    page = admin.client.get(f"/staff/patients/{married}/merge")
    assert page.status_code == 200 and "No record to offer" in page.text
    found = admin.post(f"/staff/patients/{married}/merge", {"find": "garcia"})
    assert found.status_code == 200 and f'value="{maiden}"' in found.text
    no_reason = admin.post(
        f"/staff/patients/{married}/merge", {"find": "garcia", "other": maiden, "merge": "1"}
    )
    assert no_reason.status_code == 422
    assert "Write why these records are one person." in no_reason.text
    assert 'value="garcia"' in no_reason.text, "the search is kept"
    no_pick = admin.post(
        f"/staff/patients/{married}/merge", {"reason": "Married name", "merge": "1"}
    )
    assert no_pick.status_code == 422 and "Pick the record to merge into." in no_pick.text
    done = admin.post(
        f"/staff/patients/{married}/merge",
        {
            "find": "garcia",
            "other": maiden,
            "reason": "Her married name; same DOB typo",
            "merge": "1",
        },
    )
    assert done.status_code == 302 and done.headers["Location"].endswith(maiden)
    assert row(archive, married).merge_reason == "Her married name; same DOB typo"
    with archive.sessions() as db:
        assert db.get(Visit, "a" * 32).patient_id == maiden
    again = admin.post(
        f"/staff/patients/{married}/merge", {"other": maiden, "reason": "x", "merge": "1"}
    )
    assert again.status_code == 302, "a merged record's merge page goes to its own page"


def test_merges_that_are_refused(archive, demo_data):
    a = new_patient(archive, demo_data, "Ana García", "1972-07-30")
    b = new_patient(archive, demo_data, "Liam Smith", "1990-01-02")
    c = new_patient(archive, demo_data, "Sam Park", "1990-01-02")
    with pytest.raises(MergeRefused) as refused:
        patient_match.merge(archive, a, a, "same", Actor())
    assert refused.value.code == patient_match.SAME_RECORD
    with pytest.raises(MergeRefused) as refused:
        patient_match.merge(archive, a, b, "   ", Actor())
    assert refused.value.code == patient_match.NO_REASON
    patient_match.merge(archive, a, b, "one person", Actor())
    for merged, kept in ((a, c), (c, a)):
        with pytest.raises(MergeRefused) as refused:
            patient_match.merge(archive, merged, kept, "again", Actor())
        assert refused.value.code == patient_match.ALREADY_MERGED
    with pytest.raises(MergeRefused) as refused:
        patient_match.confirm(archive, b, c, Actor())
    assert refused.value.code == patient_match.NOT_A_MATCH


def injection_row(archive, patient_id: str, lot_id: str, given: datetime, number: int) -> None:
    with archive.transaction() as db:
        consent_id = db.scalar(select(Consent.id).where(Consent.patient_id == patient_id))
        visit = Visit(
            patient_id=patient_id,
            consent_id=consent_id,
            status=VISIT_OPEN,
            started_at=given,
        )
        db.add(visit)
        db.flush()
        db.add(
            Injection(
                patient_id=patient_id,
                visit_id=visit.id,
                consent_id=consent_id,
                lot_id=lot_id,
                dose_mg=1,
                volume_ml=1,
                route="IM",
                site="deltoid",
                side="left",
                given_at=given,
                reaction="none",
                clinician_id="c" * 32,
                clinician_name="Clara Clinician",
                dose_number=number,
                next_due_on=given.date() + timedelta(days=7),
                created_at=given,
            )
        )
        db.execute(
            update(Patient)
            .where(Patient.id == patient_id)
            .values(doses_given=number, next_due_on=given.date() + timedelta(days=7))
        )


def test_a_merge_places_the_kept_record_in_the_course_from_both_records_injections(
    archive, demo_data
):
    kept = new_patient(archive, demo_data, "Ana García", "1972-07-30")
    merged = new_patient(archive, demo_data, "Ana Novak", "1972-07-30")
    with archive.transaction() as db:
        lot = Lot(
            product="Methylcobalamin",
            strength="1 mg/ml",
            supplier="Hillside",
            lot_number="B12-1",
            expires_on=date(2030, 1, 1),
            created_at=datetime(2026, 1, 1, tzinfo=UTC),
        )
        db.add(lot)
        db.flush()
        lot_id = lot.id
    injection_row(archive, kept, lot_id, datetime(2026, 11, 1, 15, tzinfo=UTC), 1)
    injection_row(archive, merged, lot_id, datetime(2026, 11, 20, 15, tzinfo=UTC), 1)
    patient_match.merge(archive, merged, kept, "one person, two records", Actor())
    record = row(archive, kept)
    assert record.doses_given == 2 and record.next_due_on == date(2026, 11, 27)
    assert row(archive, merged).next_due_on is None
