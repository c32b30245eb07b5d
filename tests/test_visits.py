"""The visit (`intake/archive/visits.py`): started by staff for an enrolled tablet under a current
consent, checked in with the check-in's answers and signature (sealed as a visit record), a "yes"
flags it for a clinician, who reviews it; staff cancel an open one. On both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from intake.archive.audit import Actor
from intake.archive.course_models import (
    VISIT_CANCELLED,
    VISIT_CHECKED_IN,
    VISIT_OPEN,
    Patient,
    Visit,
)
from intake.archive.models import AuditEvent, Consent
from intake.archive.service import Archive
from intake.archive.tablets import Tablets
from intake.archive.visits import (
    NO_NOTE,
    NO_TABLET,
    NOT_CURRENT,
    NOT_FLAGGED,
    NOT_OPEN,
    TABLET_BUSY,
    VisitError,
    Visits,
)
from intake.checkin import BAD_ITEM, NO_ANSWER, NO_TIER, validate_checkin
from intake.submission import SubmissionInvalid
from tests.support.app import on_both_databases
from tests.support.course import (
    checkin,
    checkin_data,
    consent_with_patient,
    enrolled_tablet,
)
from tests.support.staff import make_staff

app_config = pytest.fixture(on_both_databases, name="app_config")
DESK = Actor(staff_id=None, ip="192.0.2.1", user_agent="Front desk browser")
TABLET = Actor(ip="192.0.2.7", user_agent="Tablet")
DEVICE = {"user_agent": "Mozilla/5.0 (iPad)", "ip": "192.0.2.7"}


def started(archive: Archive, **patient) -> tuple[Visits, Visit, str]:
    consent_id, patient_id = consent_with_patient(archive, **patient)
    tablet_id = enrolled_tablet(archive)
    visits = Visits(archive)
    signed_on = archive.get(consent_id).signed_on
    visit = visits.start(patient_id, tablet_id, DESK, today=signed_on + timedelta(days=7))
    return visits, visit, tablet_id


def events_of(archive: Archive, target: str) -> list[str]:
    with archive.sessions() as session:
        return list(
            session.scalars(
                select(AuditEvent.event).where(AuditEvent.target == target).order_by(AuditEvent.seq)
            )
        )


def test_a_visit_is_started_checked_in_and_sealed_naming_its_consent(archive: Archive):
    visits, visit, tablet_id = started(archive, legal_name="Zoë O'Brien", preferred_name="Zoë")
    assert visit.status == VISIT_OPEN
    shown = visits.open_for_tablet(tablet_id)
    assert shown is not None and shown.visit_id == visit.id and shown.first_name == "Zoë"
    assert visits.open_for_tablet(enrolled_tablet(archive, "Other")) is None

    record_id = visits.check_in(
        visit.id, tablet_id, checkin(archive.catalog.get(shown.form_id)), TABLET, device=DEVICE
    )
    done = visits.get(visit.id)
    assert done.status == VISIT_CHECKED_IN and done.record_id == record_id
    assert not done.flagged and not done.needs_review
    consent = archive.get(visit.consent_id)
    record = archive.records.get(record_id)
    assert record.consent_id == consent.id and record.patient_id == visit.patient_id
    assert archive.check(archive.records.pdf(record_id)).holds
    assert visits.open_for_tablet(tablet_id) is None
    assert events_of(archive, visit.id) == ["visit started", "visit checked in"]
    (view,) = visits.of_patient(visit.patient_id)
    assert [a["yes"] for a in view.answers] == [False] * 4


def test_any_yes_flags_the_visit_and_a_clinician_reviews_it(archive: Archive):
    visits, visit, tablet_id = started(archive)
    definition = archive.catalog.get("b12-methylcobalamin")
    reaction = {"yes": True, "tier": "serious", "items": ["muscle cramps"]}
    record_id = visits.check_in(
        visit.id, tablet_id, checkin(definition, reaction_after_last=reaction), TABLET,
        device=DEVICE,
    )  # fmt: skip
    flagged = visits.get(visit.id)
    assert flagged.flagged and flagged.needs_review
    body = archive.records.get(record_id)
    assert body.status == "archived"
    (view,) = visits.of_patient(visit.patient_id)
    (answer,) = [a for a in view.answers if a["yes"]]
    assert answer["tier"] == "serious" and answer["items"] == ["muscle cramps"]

    clinician = make_staff(archive, "clinician")
    with pytest.raises(VisitError) as refused:
        visits.review(visit.id, clinician, "   ", Actor(staff_id=clinician.id))
    assert refused.value.code == NO_NOTE
    visits.review(visit.id, clinician, "Cramps gone; fine to inject.", Actor(staff_id=clinician.id))
    reviewed = visits.get(visit.id)
    assert not reviewed.needs_review and reviewed.flagged
    assert reviewed.reviewed_by == clinician.id and reviewed.review_note.startswith("Cramps")
    (view,) = visits.of_patient(visit.patient_id)
    assert view.reviewer == clinician.name
    assert events_of(archive, visit.id)[-1] == "visit reviewed"


def test_a_visit_with_no_yes_cannot_be_reviewed(archive: Archive):
    visits, visit, tablet_id = started(archive)
    clinician = make_staff(archive, "clinician")
    with pytest.raises(VisitError) as refused:
        visits.review(visit.id, clinician, "fine", Actor(staff_id=clinician.id))
    assert refused.value.code == NOT_FLAGGED


def test_a_visit_needs_a_current_consent_and_says_why_not(archive: Archive):
    consent_id, patient_id = consent_with_patient(archive)
    tablet_id = enrolled_tablet(archive)
    signed_on = archive.get(consent_id).signed_on
    with pytest.raises(VisitError) as refused:
        Visits(archive).start(patient_id, tablet_id, DESK, today=signed_on + timedelta(days=400))
    assert refused.value.code == NOT_CURRENT
    assert refused.value.detail  # the page words it from the validity


def test_one_open_visit_per_tablet_and_only_enrolled_tablets(archive: Archive):
    visits, visit, tablet_id = started(archive)
    today = archive.get(visit.consent_id).signed_on + timedelta(days=7)
    with pytest.raises(VisitError) as busy:
        visits.start(visit.patient_id, tablet_id, DESK, today=today)
    assert busy.value.code == TABLET_BUSY
    other = enrolled_tablet(archive, "Front desk 2")
    Tablets(archive).revoke(other, DESK)
    with pytest.raises(VisitError) as revoked:
        visits.start(visit.patient_id, other, DESK, today=today)
    assert revoked.value.code == NO_TABLET


def test_staff_cancel_an_open_visit_and_the_tablet_can_no_longer_check_in(archive: Archive):
    visits, visit, tablet_id = started(archive)
    visits.cancel(visit.id, DESK)
    assert visits.get(visit.id).status == VISIT_CANCELLED
    assert visits.open_for_tablet(tablet_id) is None
    definition = archive.catalog.get("b12-methylcobalamin")
    with pytest.raises(VisitError) as refused:
        visits.check_in(visit.id, tablet_id, checkin(definition), TABLET, device=DEVICE)
    assert refused.value.code == NOT_OPEN
    with pytest.raises(VisitError):
        visits.cancel(visit.id, DESK)
    assert archive.records.known("visit-" + visit.id) is None
    assert events_of(archive, visit.id) == ["visit started", "visit cancelled"]


def test_a_check_in_is_only_for_the_tablet_the_visit_was_sent_to(archive: Archive):
    visits, visit, _tablet_id = started(archive)
    other = enrolled_tablet(archive, "Front desk 2")
    definition = archive.catalog.get("b12-methylcobalamin")
    with pytest.raises(VisitError):
        visits.check_in(visit.id, other, checkin(definition), TABLET, device=DEVICE)


def test_the_same_submit_sent_twice_makes_one_record(archive: Archive):
    visits, visit, tablet_id = started(archive)
    definition = archive.catalog.get("b12-methylcobalamin")
    first = visits.check_in(
        visit.id, tablet_id, checkin(definition), TABLET, device=DEVICE, key="a" * 43
    )
    again = visits.check_in(
        visit.id, tablet_id, checkin(definition), TABLET, device=DEVICE, key="a" * 43
    )
    assert first == again
    assert events_of(archive, visit.id).count("visit checked in") == 1


def test_a_check_in_moves_the_patients_last_entry(archive: Archive):
    visits, visit, tablet_id = started(archive)
    definition = archive.catalog.get("b12-methylcobalamin")
    data = checkin_data(definition)
    data["signed_at"] = "2027-02-03T09:00:00-05:00"
    visits.check_in(visit.id, tablet_id, validate_checkin(data, definition), TABLET, device=DEVICE)
    with archive.sessions() as session:
        assert session.get(Patient, visit.patient_id).last_entry_on.isoformat() == "2027-02-03"
        assert session.get(Consent, visit.consent_id) is not None


@pytest.mark.parametrize(
    ("answers", "field", "message"),
    [
        ({"unwell_today": None}, "answers.unwell_today", NO_ANSWER),
        ({"reaction_after_last": {"yes": True}}, "answers.reaction_after_last.tier", NO_TIER),
        (
            {"reaction_after_last": {"yes": True, "tier": "mild", "items": ["muscle cramps"]}},
            "answers.reaction_after_last.items",
            BAD_ITEM,
        ),
    ],
)
def test_bad_answers_name_their_field(definition, answers, field, message):
    data = checkin_data(definition, **answers)
    with pytest.raises(SubmissionInvalid) as invalid:
        validate_checkin(data, definition)
    assert [(e.field, e.message) for e in invalid.value.errors] == [(field, message)]


def test_an_empty_pad_is_refused(definition):
    data = checkin_data(definition)
    data["signature"] = {"width": 600, "height": 200, "strokes": []}
    with pytest.raises(SubmissionInvalid) as invalid:
        validate_checkin(data, definition)
    assert [e.field for e in invalid.value.errors] == ["signature.strokes"]


def test_the_longest_check_in_still_fits_one_page(archive: Archive):
    """Every answer "yes", the reaction with the tier of the most items, all of them ticked; a
    long name, and the longest browser description a tablet may send."""
    import io

    from pypdf import PdfReader

    name = "Maria-Fernanda Guadalupe Castellanos-Villanueva de la Santísima Trinidad " * 2
    visits, visit, tablet_id = started(archive, legal_name=name.strip())
    definition = archive.catalog.get("b12-methylcobalamin")
    longest = max(definition.side_effects, key=lambda t: sum(map(len, t.items)))
    answers = {q.id: True for q in definition.visit_screening}
    answers["reaction_after_last"] = {
        "yes": True, "tier": longest.tier, "items": list(longest.items),
    }  # fmt: skip
    device = {"user_agent": "Mozilla/5.0 (Linux; Android 14) " * 33, "ip": "2001:db8::1"}
    record_id = visits.check_in(
        visit.id, tablet_id, checkin(definition, **answers), TABLET, device=device
    )
    pdf = archive.records.pdf(record_id)
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 1
    assert archive.check(pdf).holds
