"""Validation of a patient's submission: every rule, with the field each error names."""

from __future__ import annotations

import json
from typing import Any

import pytest

from intake.definition import ConsentDefinition, FormCatalog
from intake.submission import Submission, SubmissionInvalid, validate_submission

#: Marks a key to remove rather than set.
DELETE = object()

#: A valid stroke, wide enough to count as a signature on a 600 x 200 pad.
STROKE = [[40, 150], [120, 60], [260, 150]]

GUARDIAN = {
    "name": "Ann O'Brien",
    "relationship": "mother",
    "signature": {"width": 600, "height": 200, "strokes": [STROKE]},
}

NAN = json.loads("NaN")
INFINITY = json.loads("Infinity")


def changed(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """`data` with the value at a dotted path set (or removed, for `DELETE`)."""
    *parents, last = path.split(".")
    target = data
    for key in parents:
        target = target[key]
    if value is DELETE:
        del target[last]
    else:
        target[last] = value
    return data


def errors_of(data: Any, catalog: FormCatalog) -> dict[str, str]:
    """{field: message} of every problem; fails the test when the data is valid."""
    with pytest.raises(SubmissionInvalid) as caught:
        validate_submission(data, catalog)
    errors = caught.value.errors
    assert errors
    for error in errors:
        assert error.field, "every error names its field"
        assert str(error) == f"{error.field}: {error.message}"
        assert f"{error.field}: {error.message}" in str(caught.value)
    return {e.field: e.message for e in errors}


def test_demo_submission_is_valid(demo_data: dict[str, Any], catalog: FormCatalog) -> None:
    submission = validate_submission(demo_data, catalog)
    assert submission.form_id == "b12-methylcobalamin"
    assert submission.patient.legal_name == "Zoë O'Brien"
    assert submission.patient.date_of_birth.isoformat() == "1985-04-12"
    assert submission.signed_at.isoformat() == "2026-11-29T10:15:00-05:00"
    assert submission.guardian is None
    assert not submission.is_minor
    assert submission.signature.point_count == 122
    assert submission.device.ip == "203.0.113.5"


REQUIRED = [
    "patient.legal_name",
    "patient.date_of_birth",
    "patient.phone",
    "patient.address",
    "patient.emergency_contact.name",
    "patient.emergency_contact.phone",
    "patient.emergency_contact.relationship",
    "health.allergies",
    "health.medications",
    "health.conditions",
    "signature.typed_name",
    "signed_at",
]


@pytest.mark.parametrize("value", [DELETE, "", "   \t "], ids=["missing", "empty", "spaces"])
@pytest.mark.parametrize("path", REQUIRED)
def test_required_field(
    demo_data: dict[str, Any], catalog: FormCatalog, path: str, value: Any
) -> None:
    errors = errors_of(changed(demo_data, path, value), catalog)
    assert errors == {path: "is required"}


@pytest.mark.parametrize(
    ("path", "value", "field", "message"),
    [
        ("form", "botox", "form", "is not a known form (known: b12-methylcobalamin)"),
        ("form", DELETE, "form", "is not a known form"),
        ("patient", DELETE, "patient", "is required"),
        ("patient", "Zoë", "patient", "must be an object"),
        ("signature", DELETE, "signature", "is required"),
        ("patient.legal_name", 42, "patient.legal_name", "must be text"),
        ("patient.date_of_birth", "12/04/1985", "patient.date_of_birth", "YYYY-MM-DD"),
        ("patient.date_of_birth", "1985-4-12", "patient.date_of_birth", "YYYY-MM-DD"),
        ("patient.date_of_birth", "1985-02-30", "patient.date_of_birth", "YYYY-MM-DD"),
        ("patient.date_of_birth", "2999-01-01", "patient.date_of_birth", "not in the future"),
        ("patient.date_of_birth", "1850-01-01", "patient.date_of_birth", "a real date of birth"),
        ("signed_at", "2026-11-29T10:15:00", "signed_at", "must include a UTC offset"),
        ("signed_at", "yesterday", "signed_at", "a date and time like"),
        ("screening.heart_disease", DELETE, "screening.heart_disease", "answered yes or no"),
        ("screening.heart_disease", "yes", "screening.heart_disease", "answered yes or no"),
        ("screening.heart_disease", 1, "screening.heart_disease", "answered yes or no"),
        ("screening.tattoos", False, "screening.tattoos", "is not a question of this form"),
        ("acknowledgments.voluntary", False, "acknowledgments.voluntary", "must be ticked"),
        ("acknowledgments.voluntary", "true", "acknowledgments.voluntary", "must be ticked"),
        (
            "acknowledgments.electronic_signature",
            DELETE,
            "acknowledgments.electronic_signature",
            "must be ticked",
        ),
        ("signature.typed_name", "Zoe OBrien", "signature.typed_name", "must match your legal"),
        ("patient.legal_name", "Zoë\x00O'Brien", "patient.legal_name", "control character"),
        ("patient.legal_name", "Zoë\nO'Brien", "patient.legal_name", "control character"),
        ("patient.preferred_name", "Z\x1b[2Jo", "patient.preferred_name", "control character"),
        (
            "patient.emergency_contact.name",
            "Ann\x07",
            "patient.emergency_contact.name",
            "control character",
        ),
        ("health.allergies", "a" * 10_001, "health.allergies", "is too long (10,001 characters"),
        ("patient.legal_name", "Z" * 201, "patient.legal_name", "at most 200"),
        ("patient.email", "zoe@example", "patient.email", "is not an email address"),
        ("patient.email", "zoe example.org", "patient.email", "is not an email address"),
        ("patient.email", "zoe@@example.org", "patient.email", "is not an email address"),
        ("patient.phone", "call me", "patient.phone", "is not a phone number"),
        ("patient.phone", "555-01", "patient.phone", "is not a phone number (7 to 15 digits)"),
        ("patient.phone", "1" * 16, "patient.phone", "7 to 15 digits"),
        (
            "patient.emergency_contact.phone",
            "+1 555 CALL ANN",
            "patient.emergency_contact.phone",
            "is not a phone number",
        ),
        ("device.ip", "999.1.1.1", "device.ip", "is not an IP address"),
        ("device.ip", "localhost", "device.ip", "is not an IP address"),
        ("device", "iPad", "device", "must be an object"),
    ],
)
def test_invalid_field(
    demo_data: dict[str, Any],
    catalog: FormCatalog,
    path: str,
    value: Any,
    field: str,
    message: str,
) -> None:
    errors = errors_of(changed(demo_data, path, value), catalog)
    assert field in errors, errors
    assert message in errors[field]


@pytest.mark.parametrize(
    ("path", "value", "field", "message"),
    [
        ("signature.strokes", DELETE, "signature.strokes", "is empty: please sign"),
        ("signature.strokes", [], "signature.strokes", "is empty: please sign"),
        ("signature.strokes", "M 0 0 L 100 100", "signature.strokes", "is empty"),
        ("signature.strokes", [[[300, 100]]], "signature.strokes", "too small to be a signature"),
        (
            "signature.strokes",
            [[[300, 100], [305, 102]]],
            "signature.strokes",
            "too small to be a signature",
        ),
        ("signature.strokes", [[]], "signature.strokes[0]", "non-empty list of points"),
        ("signature.strokes", [STROKE, "x"], "signature.strokes[1]", "non-empty list of points"),
        ("signature.strokes", [[[NAN, 50], *STROKE]], "signature.strokes[0][0]", "two numbers"),
        ("signature.strokes", [[*STROKE, [INFINITY, 5]]], "signature.strokes[0][3]", "numbers"),
        ("signature.strokes", [[[-1, 50], *STROKE]], "signature.strokes[0][0]", "outside the"),
        ("signature.strokes", [[*STROKE, [40, -0.5]]], "signature.strokes[0][3]", "outside the"),
        ("signature.strokes", [[[1e300, 50], *STROKE]], "signature.strokes[0][0]", "outside"),
        ("signature.strokes", [[*STROKE, [601, 50]]], "signature.strokes[0][3]", "outside"),
        ("signature.strokes", [[{"x": 1, "y": 2}]], "signature.strokes[0][0]", "two numbers"),
        ("signature.strokes", [["40,150"]], "signature.strokes[0][0]", "two numbers"),
        ("signature.strokes", [[[40, 150, 1]]], "signature.strokes[0][0]", "two numbers"),
        ("signature.strokes", [[[True, 50], *STROKE]], "signature.strokes[0][0]", "two numbers"),
        ("signature.strokes", [[["40", 50], *STROKE]], "signature.strokes[0][0]", "two numbers"),
        (
            "signature.strokes",
            [STROKE] * 101,
            "signature.strokes",
            "too many strokes (at most 100)",
        ),
        (
            "signature.strokes",
            [[[10 + i % 500, 100] for i in range(5_001)]],
            "signature.strokes[0]",
            "too many points (at most 5,000)",
        ),
        (
            "signature.strokes",
            [[[10 + i % 500, 100] for i in range(4_001)]] * 5,
            "signature.strokes",
            "too many points (at most 20,000)",
        ),
        ("signature.width", 0, "signature.width", "must be a number from 1 to 5000"),
        ("signature.width", True, "signature.width", "must be a number"),
        ("signature.height", NAN, "signature.height", "must be a number"),
        ("signature.height", 50_000, "signature.height", "must be a number from 1 to 5000"),
    ],
)
def test_invalid_signature(
    demo_data: dict[str, Any],
    catalog: FormCatalog,
    path: str,
    value: Any,
    field: str,
    message: str,
) -> None:
    errors = errors_of(changed(demo_data, path, value), catalog)
    assert field in errors, errors
    assert message in errors[field]


def test_submission_that_is_not_an_object(catalog: FormCatalog) -> None:
    assert errors_of(["not", "an", "object"], catalog) == {"submission": "must be an object"}


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("signature.typed_name", "  zoë   o'BRIEN "),
        ("signature.typed_name", "ZOË O'BRIEN"),
        ("signature.typed_name", "Zoe\u0308 O'Brien"),
        ("patient.email", ""),
        ("patient.email", DELETE),
        ("patient.preferred_name", DELETE),
        ("patient.primary_physician", DELETE),
        ("device", DELETE),
        ("device.ip", "2001:db8::1"),
        ("health.allergies", "a" * 5_000),
        ("health.allergies", "a" * 10_000),
        ("patient.phone", "(555) 010-2000"),
        ("signed_at", "2026-11-29T15:15:00Z"),
    ],
)
def test_valid_variation(
    demo_data: dict[str, Any], catalog: FormCatalog, path: str, value: Any
) -> None:
    submission = validate_submission(changed(demo_data, path, value), catalog)
    assert submission.patient.legal_name == "Zoë O'Brien"


def test_allergies_of_5000_characters_are_kept(
    demo_data: dict[str, Any], catalog: FormCatalog
) -> None:
    allergies = "latex; " * 714 + "cobalt"
    assert len(allergies) == 5_004
    submission = validate_submission(changed(demo_data, "health.allergies", allergies), catalog)
    assert submission.health.allergies == allergies


# --- Minors and guardians ----------------------------------------------------------------------


def test_minor_without_guardian_is_refused(demo_data: dict[str, Any], catalog: FormCatalog) -> None:
    errors = errors_of(changed(demo_data, "patient.date_of_birth", "2010-06-01"), catalog)
    assert list(errors) == ["guardian"]
    assert "parent or guardian signs for anyone under 18" in errors["guardian"]


@pytest.mark.parametrize("guardian", [None, {}, ""], ids=["null", "empty-object", "empty-text"])
def test_minor_with_empty_guardian_is_refused(
    demo_data: dict[str, Any], catalog: FormCatalog, guardian: Any
) -> None:
    demo_data["guardian"] = guardian
    errors = errors_of(changed(demo_data, "patient.date_of_birth", "2010-06-01"), catalog)
    assert list(errors) == ["guardian"]
    assert errors["guardian"].startswith("is required")


def test_minor_with_guardian_is_valid(demo_data: dict[str, Any], catalog: FormCatalog) -> None:
    demo_data["guardian"] = GUARDIAN
    submission = validate_submission(
        changed(demo_data, "patient.date_of_birth", "2010-06-01"), catalog
    )
    assert submission.is_minor
    assert submission.guardian is not None
    assert (submission.guardian.name, submission.guardian.relationship) == (
        "Ann O'Brien",
        "mother",
    )
    assert submission.guardian.signature.strokes == (((40, 150), (120, 60), (260, 150)),)


@pytest.mark.parametrize(
    ("path", "value", "field", "message"),
    [
        ("name", "  ", "guardian.name", "is required"),
        ("relationship", DELETE, "guardian.relationship", "is required"),
        ("signature", DELETE, "guardian.signature", "is required"),
        ("signature.strokes", [], "guardian.signature.strokes", "is empty"),
        ("signature.strokes", [[[NAN, 1], *STROKE]], "guardian.signature.strokes[0][0]", "two"),
    ],
)
def test_minor_with_incomplete_guardian(
    demo_data: dict[str, Any],
    catalog: FormCatalog,
    path: str,
    value: Any,
    field: str,
    message: str,
) -> None:
    demo_data["guardian"] = json.loads(json.dumps(GUARDIAN))
    changed(demo_data["guardian"], path, value)
    errors = errors_of(changed(demo_data, "patient.date_of_birth", "2010-06-01"), catalog)
    assert field in errors, errors
    assert message in errors[field]


@pytest.mark.parametrize(
    ("born", "minor"),
    [
        ("2008-11-29", False),
        ("2008-11-30", True),
        ("2008-11-28", False),
        ("1985-04-12", False),
    ],
)
def test_age_on_the_signing_date(
    demo_data: dict[str, Any], catalog: FormCatalog, born: str, minor: bool
) -> None:
    """Signed 2026-11-29: born 2008-11-29 turned 18 that day, born 2008-11-30 is still 17."""
    if minor:
        demo_data["guardian"] = GUARDIAN
    submission = validate_submission(changed(demo_data, "patient.date_of_birth", born), catalog)
    assert submission.is_minor is minor


def test_adult_with_guardian_is_refused(demo_data: dict[str, Any], catalog: FormCatalog) -> None:
    demo_data["guardian"] = GUARDIAN
    errors = errors_of(demo_data, catalog)
    assert errors == {"guardian": "is only for a patient under 18"}


def test_born_after_signing(demo_data: dict[str, Any], catalog: FormCatalog) -> None:
    demo_data["signed_at"] = "1984-01-01T09:00:00+00:00"
    errors = errors_of(demo_data, catalog)
    assert errors == {"patient.date_of_birth": "is after the signing date"}


def test_blank_legal_name_is_one_error(demo_data: dict[str, Any], catalog: FormCatalog) -> None:
    """A blank legal name is reported once, not again as a typed-name mismatch."""
    demo_data["patient"]["phone"] = "not a phone"
    errors = errors_of(changed(demo_data, "patient.legal_name", "  "), catalog)
    assert set(errors) == {"patient.legal_name", "patient.phone"}


def test_typed_name_is_checked_when_another_patient_field_is_wrong(
    demo_data: dict[str, Any], catalog: FormCatalog
) -> None:
    demo_data["patient"]["phone"] = "not a phone"
    errors = errors_of(changed(demo_data, "signature.typed_name", "Someone Else"), catalog)
    assert set(errors) == {"patient.phone", "signature.typed_name"}


def test_every_problem_is_reported_at_once(demo_data: dict[str, Any], catalog: FormCatalog) -> None:
    demo_data["patient"]["date_of_birth"] = "12/04/1985"
    demo_data["patient"]["email"] = "nope"
    demo_data["screening"]["lebers_disease"] = None
    demo_data["acknowledgments"]["voluntary"] = False
    demo_data["signature"]["strokes"] = []
    demo_data["device"]["ip"] = "x"
    assert list(errors_of(demo_data, catalog)) == [
        "patient.date_of_birth",
        "patient.email",
        "screening.lebers_disease",
        "acknowledgments.voluntary",
        "signature.strokes",
        "device.ip",
    ]


# --- What a valid submission offers ------------------------------------------------------------


def test_flags_are_yes_answers_in_definition_order(
    demo_data: dict[str, Any], catalog: FormCatalog, definition: ConsentDefinition
) -> None:
    demo_data["screening"]["fever_or_infection"] = True
    demo_data["screening"]["cobalt_b12_allergy"] = True
    flags = validate_submission(demo_data, catalog).flags(definition)
    assert [(f.question_id, f.level) for f in flags] == [
        ("cobalt_b12_allergy", "stop"),
        ("bleeding_or_blood_thinners", "caution"),
        ("heart_disease", "caution"),
        ("fever_or_infection", "caution"),
    ]
    assert flags[0].question == definition.question("cobalt_b12_allergy").question
    assert flags[0].reason == definition.question("cobalt_b12_allergy").reason


def test_no_flags_when_every_answer_is_no(
    demo_data: dict[str, Any], catalog: FormCatalog, definition: ConsentDefinition
) -> None:
    demo_data["screening"] = {q.id: False for q in definition.screening}
    assert validate_submission(demo_data, catalog).flags(definition) == []


def reversed_keys(value: Any) -> Any:
    """The same data with every object's keys in reverse order."""
    if isinstance(value, dict):
        return {k: reversed_keys(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [reversed_keys(v) for v in value]
    return value


def test_canonical_json_ignores_key_order(demo_data: dict[str, Any], catalog: FormCatalog) -> None:
    shuffled = reversed_keys(demo_data)
    assert list(shuffled) != list(demo_data)
    first = validate_submission(demo_data, catalog)
    second = validate_submission(shuffled, catalog)
    assert first.canonical_json() == second.canonical_json()
    assert first.sha256 == second.sha256
    assert first.canonical_json().startswith(b'{"acknowledgments":{"compounded_not_fda_approved"')
    assert "Zoë".encode() in first.canonical_json()
    assert json.loads(first.canonical_json()) == demo_data


def test_canonical_json_changes_with_the_data(
    demo_data: dict[str, Any], catalog: FormCatalog
) -> None:
    before = validate_submission(demo_data, catalog).sha256
    demo_data["health"]["medications"] += "; aspirin"
    assert validate_submission(demo_data, catalog).sha256 != before


def test_raw_keeps_extra_fields(demo_data: dict[str, Any], catalog: FormCatalog) -> None:
    demo_data["kiosk"] = {"room": "2", "staff": "front desk"}
    demo_data["patient"]["pronouns"] = "she/her"
    submission = validate_submission(demo_data, catalog)
    assert submission.raw["kiosk"] == {"room": "2", "staff": "front desk"}
    assert submission.raw["patient"]["pronouns"] == "she/her"
    assert b'"pronouns":"she/her"' in submission.canonical_json()


def test_later_changes_to_the_data_do_not_change_the_submission(
    demo_data: dict[str, Any], catalog: FormCatalog
) -> None:
    submission: Submission = validate_submission(demo_data, catalog)
    before = submission.canonical_json()
    demo_data["patient"]["legal_name"] = "Someone Else"
    demo_data["signature"]["strokes"].clear()
    assert submission.canonical_json() == before


def test_extra_field_that_is_not_plain_json(
    demo_data: dict[str, Any], catalog: FormCatalog
) -> None:
    demo_data["kiosk"] = {"battery": NAN}
    assert errors_of(demo_data, catalog) == {"submission": "must be plain JSON data"}
