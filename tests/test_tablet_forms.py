"""Each error of the shared validation module lands on the tablet field that asked for it."""

from __future__ import annotations

import re

import pytest

from intake.config import PROJECT_ROOT
from intake.submission import POINTS_PER_STROKE_MAX, POINTS_TOTAL_MAX, STROKES_MAX, FieldError
from intake.tablet.forms import DetailsForm, SignForm, consent_form, health_form


@pytest.fixture
def request_context(app):
    with app.test_request_context(method="POST"):
        yield


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("patient.legal_name", "legal_name"),
        ("patient.preferred_name", "preferred_name"),
        ("patient.date_of_birth", "date_of_birth"),
        ("patient.phone", "phone"),
        ("patient.email", "email"),
        ("patient.address", "address"),
        ("patient.emergency_contact", "ec_name"),
        ("patient.emergency_contact.name", "ec_name"),
        ("patient.emergency_contact.phone", "ec_phone"),
        ("patient.emergency_contact.relationship", "ec_relationship"),
        ("patient.primary_physician", "primary_physician"),
    ],
)
def test_details_paths(request_context, path, field):
    assert DetailsForm(meta={"csrf": False}).field_for(path) == field


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("signature", "signature"),
        ("signature.typed_name", "typed_name"),
        ("signature.width", "signature"),
        ("signature.strokes", "signature"),
        ("signature.strokes[0][3]", "signature"),
        ("guardian", "guardian_name"),
        ("guardian.name", "guardian_name"),
        ("guardian.relationship", "guardian_relationship"),
        ("guardian.signature.strokes[2]", "guardian_signature"),
        ("signed_at", None),
        ("patient.date_of_birth", None),
    ],
)
def test_sign_paths(request_context, path, field):
    assert SignForm(meta={"csrf": False}).field_for(path) == field


def test_every_screening_question_and_acknowledgment_has_a_field(request_context, definition):
    health = health_form(definition)(meta={"csrf": False})
    for question in definition.screening:
        assert health.field_for(f"screening.{question.id}") == f"q_{question.id}"
    for key in ("allergies", "medications", "conditions"):
        assert health.field_for(f"health.{key}") == key
    consent = consent_form(definition)(meta={"csrf": False})
    for ack in definition.acknowledgments:
        assert consent.field_for(f"acknowledgments.{ack.id}") == f"a_{ack.id}"


def test_forms_are_made_once_per_definition(definition):
    assert health_form(definition) is health_form(definition)
    assert consent_form(definition) is consent_form(definition)


def test_errors_are_placed_and_unplaced_ones_go_to_the_top(request_context):
    form = SignForm(meta={"csrf": False})
    form.place_errors(
        [
            FieldError("signature.strokes[0][1]", "lies outside the signature pad"),
            FieldError("signed_at", "is required"),
        ]
    )
    assert form.signature.errors == ["Your signature lies outside the signature pad"]
    assert form.form_errors == ["Signed at is required"]
    assert form.summary() == [
        ("", "Signed at is required"),
        ("signature-pad", "Your signature lies outside the signature pad"),
    ]


def test_the_health_form_reads_yes_and_no_as_booleans(app, definition):
    first, second = definition.screening[:2]
    data = {f"q_{first.id}": "yes", f"q_{second.id}": "no", "allergies": "none"}
    with app.test_request_context(method="POST", data=data):
        part = health_form(definition)(meta={"csrf": False}).part()
    assert part["screening"][first.id] is True
    assert part["screening"][second.id] is False
    assert part["screening"][definition.screening[2].id] is None


def test_create_app_turns_csrf_on(app):
    assert "csrf" in app.extensions
    assert app.config.get("WTF_CSRF_ENABLED", True)


def test_the_signature_pad_stops_where_the_server_does():
    """The pad's script takes no more strokes or points than a submission may hold, so a long
    scribble ends at the pad, never in a 413 or a refused signature."""
    script = (PROJECT_ROOT / "intake" / "static" / "signature-pad.js").read_text()
    limits = {name: int(value) for name, value in re.findall(r"var (MAX_\w+) = (\d+);", script)}
    assert limits == {
        "MAX_POINTS_PER_STROKE": POINTS_PER_STROKE_MAX,
        "MAX_STROKES": STROKES_MAX,
        "MAX_POINTS": POINTS_TOTAL_MAX,
    }
    assert "this.pointCount() >= MAX_POINTS" in script
