"""The injection record, on SQLite and PostgreSQL: a clinician records a checked-in visit's
injection, signed with their password, sealed as its own one-page PDF naming the clinician, the
consent (id and SHA-256) and the visit; the schedule moves on; every refusal is shown with its
reason; a correction supersedes; two clinicians at once make one record."""

from __future__ import annotations

import io
import json
import threading
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader
from sqlalchemy import select, update

from intake.archive.accounts import Accounts
from intake.archive.audit import Actor
from intake.archive.course_models import VISIT_GIVEN, Injection, Lot, Patient, Record, Visit
from intake.archive.injections import InjectionEntry, Injections, first_visit
from intake.archive.lots import Lots, NewLot
from intake.archive.models import Consent
from intake.archive.records import Records
from intake.submission import validate_submission
from tests.support.app import on_both_databases
from tests.support.course_rows import add_visit
from tests.support.devices import plain_browser
from tests.support.pdf import pdf_words
from tests.support.staff import (
    EMAILS,
    PASSWORD,
    StaffActions,
    add_consent,
    enrol_second_factor,
    events,
    make_staff,
    next_code,
    patient,
)

pytestmark = pytest.mark.usefixtures("fast_passwords")
app_config = pytest.fixture(on_both_databases, name="app_config")


def today() -> date:
    return datetime.now().astimezone().date()


@pytest.fixture
def lot(archive) -> str:
    new = NewLot("Methylcobalamin injection", "1 mg/ml", "Hillside Pharmacy", "B12-041",
                 today() + timedelta(days=200))  # fmt: skip
    return Lots(archive).add(new, Actor(), today=today()).id


@pytest.fixture
def visit(archive, demo_data) -> tuple[str, str, str]:
    """A checked-in visit of a patient with a current consent: (visit, patient, consent)."""
    consent_id = add_consent(archive, patient(demo_data, "Vera Visit", flagged=False))
    consent = archive.get(consent_id)
    assert consent.patient_id is not None
    return add_visit(archive, consent.patient_id, consent_id), consent.patient_id, consent_id


@pytest.fixture
def clinician(app, archive) -> StaffActions:
    make_staff(archive, "clinician")
    actions = StaffActions(plain_browser(app))
    actions.login_as("clinician")
    return actions


def now_text(minutes_ago: int = 0) -> str:
    moment = datetime.now().astimezone() - timedelta(minutes=minutes_ago)
    return moment.strftime("%Y-%m-%dT%H:%M")


def fields(lot: str, **changes: str) -> dict[str, str]:
    return {
        "lot_id": lot,
        "dose_mg": "1",
        "volume_ml": "1",
        "site": "deltoid-left",
        "given_at": now_text(),
        "notes": "Tolerated well",
        "reaction": "none",
        "reaction_action": "",
        "override_reason": "",
        "password": PASSWORD,
        "code": "",
        **changes,
    }


def test_a_clinician_records_and_seals_an_injection(archive, clinician, visit, lot):
    visit_id, patient_id, consent_id = visit
    url = f"/staff/visits/{visit_id}/injection"
    page = clinician.client.get(url)
    assert page.status_code == 200
    # The site is chosen on a picture whose regions are the form's own radio buttons.
    assert page.text.count('name="site"') == 6 and 'class="body-map"' in page.text
    assert "<script" not in page.text.split("<main", 1)[-1]

    done = clinician.post(url, fields(lot, site="gluteal-right"))
    assert done.status_code == 302, done.text
    assert done.headers["Location"] == f"/staff/patients/{patient_id}"
    with archive.sessions() as db:
        injection = db.scalars(select(Injection)).one()
        visit_row = db.get(Visit, visit_id)
        patient_row = db.get(Patient, patient_id)
        record = db.get(Record, injection.record_id)
    assert (injection.site, injection.side, injection.route) == ("gluteal", "right", "IM")
    assert injection.visit_key == visit_id and injection.clinician_name == "Clara Clinician"
    assert visit_row.status == VISIT_GIVEN
    assert patient_row.doses_given == 1 and injection.dose_number == 1
    given_on = injection.given_at.astimezone().date()
    assert patient_row.next_due_on == injection.next_due_on == given_on + timedelta(days=7)
    assert record.kind == "injection" and record.status == "archived"

    pdf = Records(archive).pdf(record.id)
    report = archive.check(pdf)  # pyHanko's validator
    assert report.holds, report.problems
    text = pdf_words(pdf)
    consent = archive.get(consent_id)
    for expected in ("Injection record", "Clara Clinician", "Vera Visit", visit_id, "B12-041",
                     "right gluteal", "1 mg in 1 ml"):  # fmt: skip
        assert expected in text, expected
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    footer = " ".join(reader.pages[0].extract_text().split())
    assert consent.id in footer and consent.pdf_sha256[:16] in footer.replace(" ", "")
    assert "Vera" not in str(reader.metadata)
    (event,) = events(archive, "injection recorded")
    assert event.target == injection.id
    assert events(archive, "reauthenticated")

    section = clinician.client.get(f"/staff/patients/{patient_id}").text
    assert "Right gluteal" in section and "B12-041" in section and "Next due:" in section
    download = clinician.client.get(f"/staff/injections/{injection.id}/pdf")
    assert download.status_code == 200 and download.data == pdf
    assert events(archive, "record downloaded")[-1].target == record.id
    # Once given, the page says so and takes no second record.
    again = clinician.client.get(url).text
    assert "This visit's injection is recorded" in again


def test_a_wrong_password_signs_nothing(archive, clinician, visit, lot):
    visit_id, _, _ = visit
    response = clinician.post(
        f"/staff/visits/{visit_id}/injection", fields(lot, password="not my password")
    )
    assert response.status_code == 422 and "is not your password" in response.text
    assert 'value="Tolerated well"' in response.text or "Tolerated well" in response.text
    with archive.sessions() as db:
        assert db.scalars(select(Injection)).all() == []
    assert events(archive, "reauthentication failed")


def test_a_second_factor_signs_with_its_code(archive, app, visit, lot):
    staff = make_staff(archive, "clinician", email="cody@clinic.example", name="Cody Code")
    enrol_second_factor(archive, staff)
    clinician = StaffActions(plain_browser(app))
    clinician.login("cody@clinic.example")
    visit_id, _, _ = visit
    url = f"/staff/visits/{visit_id}/injection"
    without = clinician.post(url, fields(lot))
    assert without.status_code == 422 and "That code is not right" in without.text
    done = clinician.post(url, fields(lot, code=next_code(archive, "cody@clinic.example")))
    assert done.status_code == 302, done.text
    with archive.sessions() as db:
        injection = db.scalars(select(Injection)).one()
    body = json.loads(Records(archive).get(injection.record_id).body_json)
    assert body["signed_with"] == "password and second factor"
    assert body["clinician"]["name"] == "Cody Code"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("dose_mg", "lots", "Write a number"),
        ("volume_ml", "40", "more than one injection holds"),
        ("site", "", "This field is required."),
        ("reaction", "mild", "This field is required."),
        ("given_at", "2999-01-01T10:00", "in the future"),
    ],
)
def test_bad_input_is_named_at_its_field(archive, clinician, visit, lot, field, value, message):
    visit_id, _, _ = visit
    response = clinician.post(f"/staff/visits/{visit_id}/injection", fields(lot, **{field: value}))
    assert response.status_code == 422 and message in response.text
    with archive.sessions() as db:
        assert db.scalars(select(Injection)).all() == []


def test_refusals_are_shown_with_their_reason(archive, clinician, visit, lot, demo_data):
    visit_id, patient_id, consent_id = visit
    url = f"/staff/visits/{visit_id}/injection"
    with archive.transaction() as db:
        db.execute(update(Visit).where(Visit.id == visit_id).values(needs_review=True))
    flagged = clinician.client.get(url).text
    assert "A check-in answer is flagged and no clinician has reviewed it yet." in flagged
    assert f'href="/staff/patients/{patient_id}#visit-{visit_id}"' in flagged
    assert clinician.post(url, fields(lot)).status_code == 200
    answers = _with_stop(archive, consent_id)
    with archive.transaction() as db:
        db.execute(update(Visit).where(Visit.id == visit_id).values(needs_review=False))
        db.execute(
            update(Consent)
            .where(Consent.id == consent_id)
            .values(needs_review=True, submission_json=answers)
        )
    stop = clinician.client.get(url).text
    assert "STOP screening answer that no clinician has reviewed yet" in stop
    assert f'href="/staff/consents/{consent_id}"' in stop
    with archive.transaction() as db:
        db.execute(update(Consent).where(Consent.id == consent_id).values(needs_review=False))
    archive.void(consent_id, "signed twice", Actor())
    void = clinician.client.get(url).text
    assert "No current consent (voided)" in void
    with archive.sessions() as db:
        assert db.scalars(select(Injection)).all() == []


def _with_stop(archive, consent_id: str) -> bytes:
    with archive.sessions() as db:
        data = json.loads(db.get(Consent, consent_id).submission_json)
    data["screening"]["cobalt_b12_allergy"] = True
    return json.dumps(data).encode()


def test_an_expired_or_recalled_lot_is_refused(archive, clinician, visit, lot):
    visit_id, _, _ = visit
    url = f"/staff/visits/{visit_id}/injection"
    with archive.transaction() as db:
        db.execute(update(Lot).where(Lot.id == lot).values(expires_on=date(2020, 1, 31)))
    expired = clinician.post(url, fields(lot))
    assert expired.status_code == 422 and "This lot expired on Jan 31, 2020." in expired.text
    # The expired lot is not offered.
    assert f'value="{lot}"' not in clinician.client.get(url).text
    assert events(archive, "injection refused")
    with archive.sessions() as db:
        assert db.scalars(select(Injection)).all() == []


def test_too_soon_needs_a_reason(archive, clinician, visit, lot, demo_data):
    visit_id, patient_id, consent_id = visit
    assert clinician.post(f"/staff/visits/{visit_id}/injection", fields(lot)).status_code == 302
    second = add_visit(archive, patient_id, consent_id)
    url = f"/staff/visits/{second}/injection"
    soon = clinician.post(url, fields(lot))
    assert soon.status_code == 422 and "the course allows one 6 days after the last" in soon.text
    done = clinician.post(url, fields(lot, override_reason="Travelling for a month"))
    assert done.status_code == 302, done.text
    with archive.sessions() as db:
        rows = db.scalars(select(Injection).order_by(Injection.dose_number)).all()
        assert db.get(Patient, patient_id).doses_given == 2
    assert [row.dose_number for row in rows] == [1, 2]
    assert rows[1].override_reason == "Travelling for a month"
    (event,) = events(archive, "injection interval overridden")
    assert event.target == rows[1].id


def test_a_correction_supersedes_the_record(archive, clinician, visit, lot):
    visit_id, patient_id, _ = visit
    assert clinician.post(f"/staff/visits/{visit_id}/injection", fields(lot)).status_code == 302
    with archive.sessions() as db:
        old = db.scalars(select(Injection)).one()
    url = f"/staff/injections/{old.id}/correct"
    form = clinician.client.get(url).text
    assert 'value="deltoid-left" checked' in form or "checked" in form
    no_reason = clinician.post(url, fields(lot, site="deltoid-right"))
    assert no_reason.status_code == 422 and "This field is required." in no_reason.text
    done = clinician.post(
        url, fields(lot, site="deltoid-right", correction_reason="Given on the right arm")
    )
    assert done.status_code == 302, done.text
    with archive.sessions() as db:
        rows = {row.id: row for row in db.scalars(select(Injection))}
        assert db.get(Patient, patient_id).doses_given == 1
    new = next(row for row in rows.values() if row.id != old.id)
    assert rows[old.id].superseded_by == new.id and new.supersedes == old.id
    assert (rows[old.id].side, new.side) == ("left", "right") and new.visit_key is None
    assert Records(archive).get(old.record_id).status == "archived"
    assert "corrects record of injection" in pdf_words(Records(archive).pdf(new.record_id))
    assert events(archive, "injection corrected")
    again = clinician.post(url, fields(lot, correction_reason="again"))
    assert again.status_code == 200 and len(rows) == 2


def test_the_first_injection_follows_the_full_consent(archive, clinician, demo_data, lot):
    consent_id = add_consent(archive, patient(demo_data, "Fay First", flagged=False))
    patient_id = archive.get(consent_id).patient_id
    page = clinician.client.get(f"/staff/patients/{patient_id}").text
    assert "Record the first injection" in page
    opened = clinician.post(f"/staff/consents/{consent_id}/first-injection")
    assert opened.headers["Location"] == f"/staff/visits/{consent_id}/injection"
    assert first_visit(archive, consent_id, Actor()) == consent_id  # the same visit again
    done = clinician.post(opened.headers["Location"], fields(lot))
    assert done.status_code == 302, done.text
    with archive.sessions() as db:
        assert db.get(Patient, patient_id).doses_given == 1


def test_a_new_full_consent_takes_its_injection_from_the_patient_page(
    archive, clinician, visit, lot, demo_data
):
    visit_id, patient_id, consent_id = visit
    assert clinician.post(f"/staff/visits/{visit_id}/injection", fields(lot)).status_code == 302
    page = clinician.client.get(f"/staff/patients/{patient_id}").text
    assert "Record the injection under the new consent" not in page
    # The consent no longer holds (here: voided), and the patient signs the full consent again.
    archive.void(consent_id, "signed on the wrong form", Actor())
    again = patient(demo_data, "Vera Visit", flagged=False)
    new_id = archive.submit(
        validate_submission(again, archive.catalog), Actor(), patient=patient_id
    )
    assert archive.get(new_id).patient_id == patient_id
    page = clinician.client.get(f"/staff/patients/{patient_id}").text
    assert "Record the injection under the new consent" in page
    assert f"/staff/consents/{new_id}/first-injection" in page


def test_front_desk_cannot_record(app, archive, visit, lot):
    make_staff(archive, "front-desk")
    desk = StaffActions(plain_browser(app))
    desk.login_as("front-desk")
    visit_id, _, _ = visit
    assert desk.client.get(f"/staff/visits/{visit_id}/injection").status_code == 403
    assert desk.post(f"/staff/visits/{visit_id}/injection", fields(lot)).status_code == 403


def test_two_clinicians_at_once_make_one_record(archive, visit, lot):
    visit_id, _, _ = visit
    accounts = Accounts(archive)
    clinicians = [
        make_staff(archive, "clinician", email=f"c{n}@clinic.example", name=f"Clin {n}")
        for n in range(2)
    ]
    tokens = [accounts.login(c.email, PASSWORD, Actor(ip="192.0.2.9")) for c in clinicians]
    zone = ZoneInfo("UTC")
    service = Injections(archive, zone)
    entry = InjectionEntry(
        lot_id=lot, dose_mg=1.0, volume_ml=1.0, site="deltoid", side="left",
        given_at=datetime.now(zone) - timedelta(minutes=1),
    )  # fmt: skip
    barrier = threading.Barrier(2)
    outcomes, failures = [], []

    def record(n: int) -> None:
        try:
            barrier.wait()
            outcomes.append(
                service.record(
                    visit_id, entry, clinicians[n], token=tokens[n], password=PASSWORD, code="",
                    actor=Actor(staff_id=clinicians[n].id), today=datetime.now(zone).date(),
                )
            )  # fmt: skip
        except Exception as error:  # noqa: BLE001 - reported below
            failures.append(error)

    threads = [threading.Thread(target=record, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    assert len({o.injection_id for o in outcomes}) == 1 and sorted(o.made for o in outcomes) == [
        False,
        True,
    ]
    with archive.sessions() as db:
        assert len(db.scalars(select(Injection)).all()) == 1
        assert len(db.scalars(select(Record).where(Record.kind == "injection")).all()) == 1
    assert len(events(archive, "injection recorded")) == 1
    assert EMAILS  # the default accounts stay untouched


def test_the_longest_record_is_one_page(archive, visit, lot):
    """Every note, action and reason at its longest (a correction, sooner than the course)."""
    from intake.archive.injections import TEXT_MAX

    visit_id, patient_id, _ = visit
    clinician = make_staff(archive, "clinician")
    token = Accounts(archive).login(clinician.email, PASSWORD, Actor())
    zone = ZoneInfo("UTC")
    long = ("Wide words of a long note " * 40)[:TEXT_MAX]
    entry = InjectionEntry(
        lot_id=lot, dose_mg=1.0, volume_ml=1.0, site="vastus-lateralis", side="left",
        given_at=datetime.now(zone) - timedelta(minutes=1), notes=long, reaction="severe",
        reaction_action=long, override_reason=long,
    )  # fmt: skip
    service = Injections(archive, zone)
    first = service.record(
        visit_id, entry, clinician, token=token, password=PASSWORD, code="",
        actor=Actor(), today=datetime.now(zone).date(),
    )  # fmt: skip
    fixed = service.correct(
        first.injection_id, entry, long, clinician, token=token, password=PASSWORD, code="",
        actor=Actor(),
    )  # fmt: skip
    for outcome in (first, fixed):
        pdf = Records(archive).pdf(outcome.record_id)
        pages = PdfReader(io.BytesIO(pdf)).pages
        assert len(pages) == 1, pages[-1].extract_text()
    assert "Severe reactions" in pdf_words(Records(archive).pdf(fixed.record_id))
