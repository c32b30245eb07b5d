"""The visit check-in over HTTP: staff start it from the patient's page for one enrolled tablet,
the tablet greets the patient by first name and takes the answers and signature, bad input is
shown at its field with the other answers kept, a "yes" flags the visit, a clinician reviews it
on the patient's page; staff cancel an open visit. No patient data in URLs or logs."""

from __future__ import annotations

import json
import logging
import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from intake.archive.audit import Actor
from intake.archive.course_models import VISIT_CANCELLED, VISIT_CHECKED_IN, Visit
from intake.archive.models import AuditEvent, Consent
from intake.archive.tablets import Tablets
from intake.archive.visits import Visits
from intake.submission import validate_submission
from tests.support.app import on_both_databases
from tests.support.course import PAD
from tests.support.staff import StaffActions, links, make_staff
from tests.support.tablet import csrf_token

pytestmark = pytest.mark.usefixtures("fast_passwords")
app_config = pytest.fixture(on_both_databases, name="app_config")
B12 = "b12-methylcobalamin"
TABLET_ACTOR = Actor(ip="192.0.2.7", user_agent="Tablet")


def patient_of_demo(archive, demo_data) -> tuple[str, str]:
    consent_id = archive.submit(validate_submission(demo_data, archive.catalog), TABLET_ACTOR)
    return consent_id, archive.get(consent_id).patient_id


@pytest.fixture
def tablet_client(app):
    """The tablet in the patient's hands (an enrolled tablet of its own)."""
    client = app.test_client()
    client.tablet_id = Tablets(app.extensions["archive"]).check(client.tablet_token).id
    return client


def answers(**given: str) -> dict[str, Any]:
    """The check-in's fields: "no" to every question but those given."""
    fields = {
        "q_health_or_medicines_changed": "no",
        "q_pregnant_breastfeeding": "no",
        "q_reaction_after_last": "no",
        "q_unwell_today": "no",
        "signature": json.dumps(PAD),
    }
    fields.update(given)
    return {k: v for k, v in fields.items() if v is not None}


def post_visit(client, fields: dict[str, Any]):
    token = csrf_token(client.get("/tablet/visit").text)
    return client.post("/tablet/visit", data={"csrf_token": token, **fields})


def start(desk: StaffActions, patient_id: str, tablet_id: str):
    return desk.post(f"/staff/patients/{patient_id}/visits", {"tablet": tablet_id})


def test_a_returning_patient_checks_in_on_the_tablet_staff_chose(
    archive, desk: StaffActions, tablet_client, demo_data, caplog
):
    caplog.set_level(logging.DEBUG)
    consent_id, patient_id = patient_of_demo(archive, demo_data)
    page = desk.client.get(f"/staff/patients/{patient_id}")
    assert "Start a visit on this tablet" in page.text
    response = start(desk, patient_id, tablet_client.tablet_id)
    assert response.status_code == 302, response.text

    first = tablet_client.get("/tablet/")
    assert first.status_code == 302 and first.headers["Location"] == "/tablet/visit"
    page = tablet_client.get("/tablet/visit")
    assert page.status_code == 200
    assert "Welcome back, Zoë" in page.text
    assert "O&#39;Brien" not in page.text and "O'Brien" not in page.text
    assert "1985" not in page.text  # no date of birth, no other detail
    definition = archive.catalog.get(B12)
    for question in definition.visit_screening:
        assert question.question in page.text.replace("&#39;", "'")
    assert definition.visit.side_effects_reminder in page.text.replace("&#39;", "'")
    assert "muscle cramps" in page.text

    done = post_visit(
        tablet_client,
        answers(
            q_reaction_after_last="yes",
            t_reaction_after_last="serious",
            i_reaction_after_last=["serious:muscle cramps", "mild:mild diarrhea"],
        ),
    )
    assert done.status_code == 302 and done.headers["Location"] == "/tablet/visit/done"
    assert "hand the tablet back" in tablet_client.get("/tablet/visit/done").text
    assert tablet_client.get("/tablet/visit").status_code == 302  # nothing open any more

    (view,) = Visits(archive).of_patient(patient_id)
    assert view.visit.status == VISIT_CHECKED_IN and view.visit.needs_review
    assert view.visit.consent_id == consent_id
    (yes,) = [a for a in view.answers if a["yes"]]
    assert yes["tier"] == "serious" and yes["items"] == ["muscle cramps"]
    assert archive.check(archive.records.pdf(view.visit.record_id)).holds

    page = desk.client.get(f"/staff/patients/{patient_id}")
    assert "Needs review" in page.text and "muscle cramps" in page.text
    assert "Keep this review" not in page.text  # the front desk does not review
    pdf = desk.client.get(f"/staff/visits/{view.visit.id}/pdf")
    assert pdf.status_code == 200 and pdf.data == archive.records.pdf(view.visit.record_id)

    everything = " ".join(r.getMessage() for r in caplog.records)
    assert "Zoë" not in everything and "O'Brien" not in everything
    for html in (page.text, tablet_client.get("/tablet/visit/done").text):
        assert not [link for link in links(html) if "Zo" in link or "Brien" in link]


def test_bad_input_is_shown_at_its_field_and_the_other_answers_are_kept(
    archive, desk: StaffActions, tablet_client, demo_data
):
    _, patient_id = patient_of_demo(archive, demo_data)
    start(desk, patient_id, tablet_client.tablet_id)
    page = post_visit(
        tablet_client,
        answers(
            q_unwell_today=None,
            q_pregnant_breastfeeding="yes",
            q_reaction_after_last="yes",
            signature=json.dumps({"width": 600, "height": 200, "strokes": []}),
        ),
    )
    assert page.status_code == 422
    html = page.text
    unwell = html[html.index('id="q_unwell_today"') :]
    assert "Please answer yes or no." in unwell[: unwell.index("</fieldset>")]
    reaction = html[html.index('id="t_reaction_after_last"') :]
    assert "Please choose which kind of reaction it was." in reaction[:2000]
    assert "Please sign on the pad." in html
    # What was answered stays answered.
    assert re.search(
        r'id="q_pregnant_breastfeeding-0"[^>]*checked|checked[^>]*id="q_pregnant_breastfeeding-0"',
        html,
    )
    with archive.sessions() as session:
        assert session.scalar(select(Visit.status)) == "open"


def test_a_clinician_reviews_a_flagged_visit_on_the_patients_page(
    archive, app, desk: StaffActions, tablet_client, demo_data
):
    _, patient_id = patient_of_demo(archive, demo_data)
    start(desk, patient_id, tablet_client.tablet_id)
    post_visit(tablet_client, answers(q_unwell_today="yes"))
    (view,) = Visits(archive).of_patient(patient_id)
    make_staff(archive, "clinician")
    clinician = StaffActions(app.test_client())
    clinician.login_as("clinician")
    page = clinician.client.get(f"/staff/patients/{patient_id}")
    assert "Keep this review" in page.text
    field = f"review-{view.visit.id}-note"
    refused = clinician.post(f"/staff/visits/{view.visit.id}/review", {field: " "})
    assert refused.status_code == 422 and "Write what you found, for the record." in refused.text
    done = clinician.post(f"/staff/visits/{view.visit.id}/review", {field: "Mild cold; fine."})
    assert done.status_code == 302
    page = clinician.client.get(f"/staff/patients/{patient_id}")
    assert "Mild cold; fine." in page.text and "Reviewed by" in page.text
    assert "Needs review" not in page.text
    with archive.sessions() as session:
        events = list(
            session.scalars(
                select(AuditEvent.event)
                .where(AuditEvent.target == view.visit.id)
                .order_by(AuditEvent.seq)
            )
        )
    assert events == ["visit started", "visit checked in", "visit reviewed"]
    # The front desk may not review.
    assert desk.post(f"/staff/visits/{view.visit.id}/review", {field: "x"}).status_code == 403


def test_no_current_consent_no_visit_and_staff_see_why(
    archive, desk: StaffActions, tablet_client, demo_data
):
    consent_id, patient_id = patient_of_demo(archive, demo_data)
    with archive.transaction() as session:
        signed = session.get(Consent, consent_id).signed_on
        session.execute(
            update(Consent)
            .where(Consent.id == consent_id)
            .values(signed_on=signed - timedelta(days=800))
        )
    page = desk.client.get(f"/staff/patients/{patient_id}")
    assert "Start a visit on this tablet" not in page.text
    assert "the next visit is a full consent" in page.text
    refused = start(desk, patient_id, tablet_client.tablet_id)
    assert refused.status_code == 422
    assert "No current consent" in refused.text and "expired" in refused.text
    assert tablet_client.get("/tablet/visit").status_code == 302


def test_staff_cancel_an_open_visit_and_the_tablet_lets_go(
    archive, desk: StaffActions, tablet_client, demo_data
):
    _, patient_id = patient_of_demo(archive, demo_data)
    start(desk, patient_id, tablet_client.tablet_id)
    token = csrf_token(tablet_client.get("/tablet/visit").text)
    (view,) = Visits(archive).of_patient(patient_id)
    assert desk.post(f"/staff/visits/{view.visit.id}/cancel").status_code == 302
    assert Visits(archive).get(view.visit.id).status == VISIT_CANCELLED
    late = tablet_client.post("/tablet/visit", data={"csrf_token": token, **answers()})
    assert late.status_code == 302 and late.headers["Location"] == "/tablet/"
    with archive.sessions() as session:
        assert session.scalar(select(Visit.record_id)) is None


def test_a_second_visit_for_a_busy_tablet_is_refused_at_the_field(
    archive, desk: StaffActions, tablet_client, demo_data
):
    _, patient_id = patient_of_demo(archive, demo_data)
    assert start(desk, patient_id, tablet_client.tablet_id).status_code == 302
    again = start(desk, patient_id, tablet_client.tablet_id)
    assert again.status_code == 422 and "already has a visit open" in again.text
    assert start(desk, patient_id, "").status_code == 422


def test_a_check_in_whose_pdf_fails_is_kept_and_the_page_says_so_until_repair(
    archive, desk: StaffActions, tablet_client, demo_data, monkeypatch
):
    _, patient_id = patient_of_demo(archive, demo_data)
    start(desk, patient_id, tablet_client.tablet_id)

    def broken(*args: Any, **kwargs: Any) -> bytes:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("intake.archive.records.seal_pdf", broken)
    done = post_visit(tablet_client, answers(q_unwell_today="yes"))
    assert done.status_code == 302 and done.headers["Location"] == "/tablet/visit/done"
    (view,) = Visits(archive).of_patient(patient_id)
    assert view.visit.status == VISIT_CHECKED_IN and view.waiting
    page = desk.client.get(f"/staff/patients/{patient_id}")
    assert "PDF not made yet" in page.text and "Download the check-in PDF" not in page.text
    monkeypatch.undo()
    assert view.visit.record_id in archive.repair(TABLET_ACTOR).finished
    page = desk.client.get(f"/staff/patients/{patient_id}")
    assert "PDF not made yet" not in page.text and "Download the check-in PDF" in page.text


@pytest.mark.parametrize(
    "hostile",
    [
        {"q_unwell_today": "maybe"},
        {"q_reaction_after_last": "yes", "t_reaction_after_last": "<script>alert(1)</script>"},
        {
            "q_reaction_after_last": "yes",
            "t_reaction_after_last": "mild",
            "i_reaction_after_last": ["mild:<b>made up</b>", "mild"],
        },
        {"signature": "[" * 100_000},
        {"signature": json.dumps({"width": 600, "height": 200, "strokes": [[[9e99, -1]]]})},
        {"signature": json.dumps({**PAD, "typed_name": "Zoë", "device": "x" * 10_000})},
    ],
    ids=["not-yes-or-no", "markup-tier", "made-up-items", "deep-json", "outside-pad", "extras"],
)
def test_hostile_check_in_input_is_refused_or_cleaned_never_a_500(
    archive, desk: StaffActions, tablet_client, demo_data, hostile
):
    _, patient_id = patient_of_demo(archive, demo_data)
    start(desk, patient_id, tablet_client.tablet_id)
    answer = post_visit(tablet_client, answers(**hostile))
    assert answer.status_code in (302, 422), answer.status_code
    assert "<script>alert(1)</script>" not in answer.text and "<b>made up</b>" not in answer.text
    (view,) = Visits(archive).of_patient(patient_id)
    if answer.status_code == 302:  # cleaned: only the pad's own keys were kept
        record = archive.records.get(view.visit.record_id)
        assert b"device" not in record.body_json.split(b'"signature"')[1].split(b"}")[0]
    else:
        assert view.visit.status == "open"


def test_the_check_in_opens_in_the_language_of_the_consent_and_switches(
    archive, desk: StaffActions, tablet_client, demo_data
):
    consent_id, patient_id = patient_of_demo(archive, demo_data)
    with archive.transaction() as session:
        session.execute(update(Consent).where(Consent.id == consent_id).values(language="es"))
    assert start(desk, patient_id, tablet_client.tablet_id).status_code == 302

    page = tablet_client.get("/tablet/visit")
    assert page.status_code == 200
    assert '<html lang="es' in page.text
    assert "Bienvenido/a de nuevo. Antes de la inyección de hoy" in page.text
    assert "please answer a few questions" not in page.text

    token = csrf_token(page.text)
    switched = tablet_client.post(
        "/tablet/language", data={"csrf_token": token, "lang": "en", "back": "tablet.visit"}
    )
    assert switched.status_code == 302 and switched.headers["Location"] == "/tablet/visit"
    english = tablet_client.get("/tablet/visit")
    assert '<html lang="en' in english.text
    assert "Welcome back. Before today" in english.text

    done = post_visit(tablet_client, answers())
    assert done.status_code == 302 and done.headers["Location"] == "/tablet/visit/done"
