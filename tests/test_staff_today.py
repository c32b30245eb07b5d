"""Today's list as staff see it, on SQLite and PostgreSQL: the patients at the clinic, then the
due and overdue ones; the front desk sees it, clinicians get the button to record; paged by
keyset without any patient data in the address."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from tests.support.app import on_both_databases
from tests.support.course_rows import add_patient, add_visit
from tests.support.devices import plain_browser
from tests.support.staff import StaffActions, add_consent, make_staff, patient

pytestmark = pytest.mark.usefixtures("fast_passwords")
app_config = pytest.fixture(on_both_databases, name="app_config")


def login(app, archive, role: str) -> StaffActions:
    make_staff(archive, role)
    actions = StaffActions(plain_browser(app))
    actions.login_as(role)
    return actions


def test_todays_list(app, archive, demo_data):
    today = datetime.now().astimezone().date()
    consent_id = add_consent(archive, patient(demo_data, "Cara Checked", flagged=False))
    here = archive.get(consent_id).patient_id
    visit_id = add_visit(archive, here, consent_id)
    late = add_patient(archive, "Olga Overdue", next_due_on=today - timedelta(days=4))
    add_patient(archive, "Lena Later", next_due_on=today + timedelta(days=3))

    desk = login(app, archive, "front-desk")
    page = desk.client.get("/staff/today")
    assert page.status_code == 200
    text = page.text
    assert "Cara Checked" in text and "Checked in" in text
    assert "Olga Overdue" in text and "Overdue" in text and "4 days" in text
    assert "Lena Later" not in text
    assert f"/staff/patients/{late}" in text
    assert "Record the injection" not in text  # the front desk does not record

    clinician = StaffActions(plain_browser(app))
    make_staff(archive, "clinician")
    clinician.login_as("clinician")
    assert f"/staff/visits/{visit_id}/injection" in clinician.client.get("/staff/today").text


def test_todays_list_pages_by_keyset(app, archive):
    today = datetime.now().astimezone().date()
    for n in range(55):
        add_patient(archive, f"Pat Number{n:02d}", next_due_on=today - timedelta(days=60 - n))
    desk = login(app, archive, "front-desk")
    first = desk.client.get("/staff/today").text
    assert "Number00" in first and "Number49" in first and "Number50" not in first
    more = first.split('href="/staff/today?after=', 1)[1].split('"', 1)[0]
    day, patient_id = more.split(".")
    assert date.fromisoformat(day) and len(patient_id) == 32  # a day and an id: no names
    second = desk.client.get(f"/staff/today?after={more}").text
    assert "Number50" in second and "Number54" in second and "Number49" not in second
    assert desk.client.get("/staff/today?after=junk").status_code == 200
