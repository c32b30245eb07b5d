"""Patients: made from every consent as it is accepted, their consents' validity, the patient
page and its search, and retention from the patient's last entry. Both databases."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from intake.archive import patient_search, patients
from intake.archive.audit import Actor
from intake.archive.course_models import Patient, PatientName
from intake.archive.models import Consent
from intake.archive.patient_search import PatientCriteria
from intake.submission import validate_submission
from tests.support.app import on_both_databases
from tests.support.staff import add_consent, events, links, patient

pytestmark = pytest.mark.usefixtures("fast_passwords")
app_config = pytest.fixture(on_both_databases, name="app_config")

ZOE = "Zoë O'Brien"


def patient_of(archive, consent_id: str) -> Patient:
    with archive.sessions() as db:
        return db.get(Patient, db.get(Consent, consent_id).patient_id)


def words_of(archive, patient_id: str) -> set[str]:
    with archive.sessions() as db:
        rows = db.scalars(select(PatientName.word).where(PatientName.patient_id == patient_id))
        return set(rows)


def names_listed(html: str) -> list[str]:
    row = r'<th scope="row" class="name"><a [^>]*>([^<]*)</a>'
    return re.findall(row, html.replace("&#39;", "'"))


# --- a patient from every consent ------------------------------------------------------------


def test_a_consent_makes_its_patient_in_the_same_transaction(archive, demo_data):
    consent_id = add_consent(archive, demo_data, seal=False)
    record = patient_of(archive, consent_id)
    assert record.legal_name == ZOE and record.date_of_birth == date(1985, 4, 12)
    assert record.first_consent_id == consent_id
    assert record.last_entry_on == date(2026, 11, 29)
    assert record.phone == demo_data["patient"]["phone"]
    assert record.email == demo_data["patient"]["email"]
    assert record.address == demo_data["patient"]["address"]
    assert record.first_name == (demo_data["patient"]["preferred_name"] or "Zoë")
    assert words_of(archive, record.id) == {"zoe", "obrien"}


def test_first_name_is_the_preferred_name_else_the_legal_names_first_word(archive, demo_data):
    data = patient(demo_data, "Margarita Ana Lopez")
    plain = patient_of(archive, add_consent(archive, data, seal=False))
    assert plain.first_name == "Margarita"
    data["patient"]["preferred_name"] = "  Rita  "
    preferred = patient_of(archive, add_consent(archive, data, seal=False))
    assert preferred.first_name == "Rita"
    assert preferred.id != plain.id, "the same name twice is two records until staff merge"


def test_a_consent_staff_started_for_a_patient_is_filed_under_them(archive, demo_data):
    first = patient_of(archive, add_consent(archive, demo_data, seal=False))
    later = patient(demo_data, "Zoë O'Brien-Smith", signed_at="2027-12-01T10:00:00-06:00")
    submission = validate_submission(later, archive.catalog)
    consent_id = archive.accept(submission, Actor(), patient=first.id)
    again = patient_of(archive, consent_id)
    assert again.id == first.id and again.last_entry_on == date(2027, 12, 1)
    assert "smith" in words_of(archive, first.id), "the new name is found too"
    with archive.sessions() as db:
        assert db.query(Patient).count() == 1


def test_touch_only_moves_the_last_entry_forward(archive, demo_data):
    record = patient_of(archive, add_consent(archive, demo_data, seal=False))
    with archive.transaction() as db:
        patients.touch(db, record.id, date(2027, 3, 1))
        patients.touch(db, record.id, date(2026, 1, 1))
    assert patient_of(archive, record.first_consent_id).last_entry_on == date(2027, 3, 1)


# --- validity --------------------------------------------------------------------------------


def currentness(archive, patient_id: str, today: date) -> patients.Currentness:
    with archive.sessions() as db:
        return patients.current_consent(db, patient_id, archive.catalog, today)


def test_a_sealed_consent_is_current_for_its_valid_days_then_expired(archive, demo_data):
    consent_id = add_consent(archive, demo_data)
    record = patient_of(archive, consent_id)
    days = archive.catalog.get(demo_data["form"]).course.consent_valid_days
    last = date(2026, 11, 29) + timedelta(days=days - 1)
    on_the_last_day = currentness(archive, record.id, last)
    assert on_the_last_day.consent.id == consent_id and on_the_last_day.reason == ""
    assert on_the_last_day.validity.reason == f"current until {last.isoformat()}"
    after = currentness(archive, record.id, last + timedelta(days=1))
    assert after.consent is None and after.reason == "consent of 2026-11-29 expired"


def test_a_pending_voided_or_older_version_consent_is_not_current(archive, demo_data):
    consent_id = add_consent(archive, demo_data, seal=False)
    record = patient_of(archive, consent_id)
    today = date(2026, 12, 1)
    assert currentness(archive, record.id, today).reason == "its sealed PDF is not made yet"
    archive.finish(consent_id, Actor())
    assert currentness(archive, record.id, today).consent.id == consent_id
    with archive.transaction() as db:
        db.execute(update(Consent).where(Consent.id == consent_id).values(form_version="0.9"))
    version = archive.catalog.get(demo_data["form"]).version
    changed = currentness(archive, record.id, today)
    assert changed.consent is None
    assert changed.reason == f"the form's text changed: version {version}"
    archive.void(consent_id, "Taken by mistake", Actor())
    assert currentness(archive, record.id, today).reason == "voided"


def test_the_newest_current_consent_is_the_one_relied_on(archive, demo_data):
    old = add_consent(archive, dict(demo_data, signed_at="2025-01-03T10:00:00-06:00"))
    record = patient_of(archive, old)
    new = archive.submit(
        validate_submission(demo_data, archive.catalog), Actor(), patient=record.id
    )
    found = currentness(archive, record.id, date(2026, 12, 1))
    assert found.consent.id == new
    file = patients.patient_file(archive, record.id, date(2026, 12, 1))
    assert [(c.id, v.code) for c, v in file.consents] == [
        (new, patients.CURRENT),
        (old, patients.EXPIRED),
    ]


def test_no_consent_on_file(archive, demo_data):
    record = patient_of(archive, add_consent(archive, demo_data, seal=False))
    with archive.transaction() as db:
        db.execute(update(Consent).values(patient_id=None))
    assert currentness(archive, record.id, date(2026, 12, 1)).reason == "no consent on file"


# --- retention -------------------------------------------------------------------------------


def test_a_consent_is_kept_from_its_patients_last_entry(archive, demo_data):
    consent_id = add_consent(archive, dict(demo_data, signed_at="2012-03-01T10:00:00-06:00"))
    record = patient_of(archive, consent_id)
    today = date(2026, 11, 29)
    assert [c.id for c in archive.due(today)] == [consent_id]
    with archive.transaction() as db:
        patients.touch(db, record.id, date(2020, 6, 1))
    assert archive.retained_until(archive.get(consent_id)) == date(2030, 6, 1)
    assert archive.due(today) == []
    with pytest.raises(Exception, match="kept until 2030-06-01"):
        archive.delete(consent_id, Actor(), today)
    archive.delete(consent_id, Actor(), date(2030, 6, 2))


# --- the pages -------------------------------------------------------------------------------


def test_the_consent_page_links_to_its_patients_page(archive, desk, demo_data):
    consent_id = add_consent(archive, demo_data)
    record = patient_of(archive, consent_id)
    page = desk.client.get(f"/staff/consents/{consent_id}")
    assert f"/staff/patients/{record.id}" in links(page.text)
    shown = desk.client.get(f"/staff/patients/{record.id}")
    assert shown.status_code == 200
    text = shown.text.replace("&#39;", "'")
    assert ZOE in text and "Apr 12, 1985" in text and demo_data["patient"]["phone"] in text
    assert "current until Nov 28, 2027" in text and f"/staff/consents/{consent_id}" in text
    assert [e.target for e in events(archive, "patient viewed")] == [record.id]


def test_a_patient_page_says_why_no_consent_is_current(archive, desk, demo_data):
    consent_id = add_consent(archive, dict(demo_data, signed_at="2024-01-03T10:00:00-06:00"))
    page = desk.client.get(f"/staff/patients/{patient_of(archive, consent_id).id}").text
    assert "No current consent" in page and "Consent of Jan 3, 2024 expired" in page
    assert "The next visit is a full consent again." in page


@pytest.mark.parametrize("patient_id", ["0" * 32, "not-an-id", "../consents"])
def test_an_unknown_patient_is_not_found(desk, patient_id):
    assert desk.client.get(f"/staff/patients/{patient_id}").status_code == 404


def test_patient_pages_need_a_login(client, archive, demo_data):
    record = patient_of(archive, add_consent(archive, demo_data, seal=False))
    assert client.get(f"/staff/patients/{record.id}").status_code == 302
    assert client.get("/staff/patients").status_code == 302


def test_search_patients_by_name_and_date_of_birth_keeps_names_out_of_urls(
    archive, desk, demo_data
):
    add_consent(archive, demo_data, seal=False)
    add_consent(archive, patient(demo_data, "Liam Smith", born="1990-01-02"), seal=False)
    add_consent(archive, patient(demo_data, "Ana García", born="1972-07-30"), seal=False)
    assert names_listed(desk.client.get("/staff/patients").text) == sorted(
        names_listed(desk.client.get("/staff/patients").text), key=lambda _: 0
    )
    assert len(names_listed(desk.client.get("/staff/patients").text)) == 3
    response = desk.post("/staff/patients/search", {"name": "GARCIA"})
    assert response.status_code == 302 and response.headers["Location"] == "/staff/patients"
    page = desk.client.get("/staff/patients").text
    assert names_listed(page) == ["Ana García"]
    assert not any("garcia" in link.lower() for link in links(page))
    desk.post("/staff/patients/search", {"date_of_birth": "1990-01-02"})
    assert names_listed(desk.client.get("/staff/patients").text) == ["Liam Smith"]
    desk.post("/staff/patients/search", {"clear": "1"})
    assert len(names_listed(desk.client.get("/staff/patients").text)) == 3


def test_a_bad_date_of_birth_is_named_at_its_field_and_the_name_kept(desk):
    response = desk.post("/staff/patients/search", {"name": "Zoë", "date_of_birth": "1985-02-31"})
    assert response.status_code == 422
    assert "Date of birth must be a real date" in response.text
    assert 'value="Zoë"' in response.text


def test_patient_search_pages_by_keyset_without_repeats(archive, demo_data):
    ids = []
    for day in range(1, 8):
        data = patient(demo_data, "Sam Park", signed_at=f"2026-11-{day:02d}T10:00:00-06:00")
        ids.append(patient_of(archive, add_consent(archive, data, seal=False)).id)
    seen: list[str] = []
    cursor = None
    with archive.sessions() as db:
        while True:
            page = patient_search.search(db, PatientCriteria(name="sam pa"), cursor=cursor, limit=3)
            seen += [p.id for p in page.patients]
            cursor = page.next_cursor
            if cursor is None:
                break
    assert seen == list(reversed(ids)), "last entry first, every patient once"


def test_intake_archive_due_keeps_a_consent_of_a_patient_seen_since(archive, intake, demo_data):
    old = add_consent(archive, dict(demo_data, signed_at="2012-03-01T10:00:00-06:00"))
    other = add_consent(
        archive, patient(demo_data, "Liam Smith", signed_at="2012-03-02T10:00:00-06:00")
    )
    result = intake("archive", "due")
    assert result.exit_code == 0 and old in result.output and other in result.output
    with archive.transaction() as db:
        patients.touch(db, patient_of(archive, old).id, date(2026, 1, 5))
    result = intake("archive", "due")
    assert old not in result.output and other in result.output


def test_a_failed_accept_keeps_no_patient_either(archive, demo_data, monkeypatch):
    """The patient is written in the consent's own transaction: when the consent cannot be
    written, the patient is not kept either."""
    taken = add_consent(archive, demo_data, seal=False)
    monkeypatch.setattr(patients, "new_id", lambda: taken)
    with pytest.raises(IntegrityError):
        add_consent(archive, patient(demo_data, "Liam Smith"), seal=False)
    with archive.sessions() as db:
        assert db.query(Patient).count() == 1 and db.query(Consent).count() == 1
        assert db.scalar(select(PatientName.word).where(PatientName.word == "liam")) is None
