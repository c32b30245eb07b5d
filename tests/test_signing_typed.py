"""Signing by typed name, witnessed by a staff member's login: the tablet pages, the witness's
login and its limits, the sealed record, the PDF and the staff page."""

from __future__ import annotations

import copy
import io
import json
from typing import Any

import pytest
from pypdf import PdfReader

from intake.archive.search import SearchCriteria
from intake.archive.service import submission_of
from intake.signing import same_name
from intake.submission import SubmissionInvalid, validate_submission
from tests.support.pdf import pdf_words
from tests.support.staff import (
    EMAILS,
    PASSWORD,
    StaffActions,
    events,
    make_staff,
    next_code,
)
from tests.support.tablet import step_fields

pytestmark = pytest.mark.usefixtures("fast_passwords")

TYPED = "/tablet/sign/typed"


def typed_fields(data: dict[str, Any], email: str = "", password: str = "", code: str = ""):
    return {
        "typed_name": data["signature"]["typed_name"],
        "adopt": "y",
        "witness_email": email,
        "witness_password": password,
        "witness_code": code,
    }


def only_consent(archive):
    (found,) = archive.search(SearchCriteria()).consents
    return archive.get(found.id)


def test_the_sign_step_offers_the_typed_name_but_the_pad_stays_the_default(
    client, tablet, demo_data
):
    tablet.fill(demo_data, until="sign")
    page = client.get("/tablet/sign").text
    assert 'name="nav" value="typed"' in page and "I can't sign with my finger" in page
    assert "data-pad" in page and "witness_email" not in page
    # Going there keeps what was typed on the pad's page.
    fields = step_fields(demo_data)["sign"] | {"nav": "typed"}
    response = tablet.post("/tablet/sign", fields)
    assert response.headers["Location"] == TYPED
    page = client.get(TYPED).text
    assert "Sign with your typed name" in page and 'name="witness_password"' in page
    assert 'value="Zoë O&#39;Brien"' in page
    assert "<canvas" not in page


def test_typed_name_witnessed_by_staff_is_sealed_and_shown(app, archive, client, tablet, demo_data):
    make_staff(archive, "front-desk")
    tablet.fill(demo_data, until="sign")
    response = tablet.post(TYPED, typed_fields(demo_data, EMAILS["front-desk"], PASSWORD))
    assert response.status_code == 302 and response.headers["Location"] == "/tablet/review"
    review = client.get("/tablet/review").text
    assert "Signed by typed name, witnessed by Frank Desk" in review
    assert tablet.submit().headers["Location"] == "/tablet/done"

    consent = only_consent(archive)
    staff_id = events(archive, "signature witnessed")[0].staff_id
    pdf = archive.pdf(consent.id)
    (attached,) = PdfReader(io.BytesIO(pdf)).attachments["submission.json"]
    for sealed in (json.loads(attached), submission_of(consent)):
        assert sealed["signature"] == {
            "method": "typed",
            "typed_name": "Zoë O'Brien",
            "witness": {"staff_id": staff_id, "name": "Frank Desk"},
        }
    words = pdf_words(pdf)
    assert "signed by typed name, witnessed by Frank Desk" in words
    assert "patient: none (signed by typed name)" in words
    assert archive.check(pdf).holds

    desk = StaffActions(client)
    desk.login_as("front-desk")
    page = client.get(f"/staff/consents/{consent.id}").text
    assert "Signed by typed name, witnessed by Frank Desk" in page


def test_a_wrong_password_is_refused_next_to_the_field_and_audited(
    archive, client, tablet, demo_data
):
    make_staff(archive, "front-desk")
    tablet.fill(demo_data, until="sign")
    page = tablet.post(TYPED, typed_fields(demo_data, EMAILS["front-desk"], "not it"))
    assert page.status_code == 422
    assert 'id="witness_password-error">That email and password do not match' in page.text
    assert 'value="Zoë O&#39;Brien"' in page.text
    assert PASSWORD not in page.text and "not it" not in page.text
    assert [e.event for e in events(archive, "signature witness refused")] == [
        "signature witness refused"
    ]
    assert client.get("/tablet/review").headers["Location"] == "/tablet/sign"


def test_every_error_of_the_page_comes_at_once(archive, tablet, demo_data):
    tablet.fill(demo_data, until="sign")
    fields = typed_fields(demo_data) | {"typed_name": "Somebody Else", "adopt": ""}
    page = tablet.post(TYPED, fields).text
    for anchor in ("typed_name", "adopt", "witness_email", "witness_password"):
        assert f'<a href="#{anchor}">' in page, anchor
    assert events(archive, "signature witness refused") == []


def test_failed_witness_logins_wait_like_logins(archive, tablet, demo_data):
    make_staff(archive, "front-desk")
    tablet.fill(demo_data, until="sign")
    for _ in range(4):
        tablet.post(TYPED, typed_fields(demo_data, EMAILS["front-desk"], "wrong"))
    page = tablet.post(TYPED, typed_fields(demo_data, EMAILS["front-desk"], PASSWORD)).text
    assert "Too many failed attempts. Wait" in page
    assert events(archive, "signature witnessed") == []


def test_an_account_with_two_step_login_gives_its_code(archive, tablet, demo_data):
    make_staff(archive, "admin")
    tablet.fill(demo_data, until="sign")
    page = tablet.post(TYPED, typed_fields(demo_data, EMAILS["admin"], PASSWORD)).text
    assert "This account uses two-step login" in page
    page = tablet.post(TYPED, typed_fields(demo_data, EMAILS["admin"], PASSWORD, "000000")).text
    assert 'id="witness_code-error">That code is not right' in page
    code = next_code(archive, EMAILS["admin"])
    response = tablet.post(TYPED, typed_fields(demo_data, EMAILS["admin"], PASSWORD, code))
    assert response.headers["Location"] == "/tablet/review"
    assert events(archive, "signature witnessed")[0].staff_id is not None


def test_the_pad_page_cannot_claim_a_witness(app, tablet, demo_data):
    fields = step_fields(demo_data)["sign"]
    pad = json.loads(fields["signature"])
    fields["signature"] = json.dumps(
        {**pad, "method": "typed", "witness": {"staff_id": "x", "name": "Nobody"}}
    )
    tablet.fill(demo_data, until="sign")
    assert tablet.post("/tablet/sign", fields).status_code == 302
    tablet.submit()
    sealed = submission_of(only_consent(app.extensions["archive"]))
    assert set(sealed["signature"]) == {"typed_name", "width", "height", "strokes"}


@pytest.mark.parametrize(
    ("signature", "message"),
    [
        ({"method": "typed", "typed_name": "Zoë O'Brien"}, "signature.witness: is required"),
        (
            {"method": "typed", "typed_name": "Zoë O'Brien", "witness": {"staff_id": "s"}},
            "signature.witness.name: is required",
        ),
        (
            {"method": "typed", "typed_name": "Zoë O'Brien", "strokes": [], "witness": {}},
            "signature.strokes: is not part of a signature by typed name",
        ),
        ({"method": "spoken", "typed_name": "Zoë O'Brien"}, "signature.method: must be one of"),
    ],
)
def test_the_validator_refuses_a_typed_signature_without_its_witness(
    catalog, demo_data, signature, message
):
    data = copy.deepcopy(demo_data) | {"signature": signature}
    with pytest.raises(SubmissionInvalid) as refused:
        validate_submission(data, catalog)
    assert message in str(refused.value)


def test_a_drawn_signature_has_no_witness(catalog, demo_data):
    submission = validate_submission(demo_data, catalog)
    assert submission.witness is None and submission.signature is not None


@pytest.mark.parametrize(
    ("legal", "typed"),
    [
        ("Zoë O'Brien", "Zoë O\u2019Brien"),
        ("Anne-Marie Smith", "Anne\u2010Marie Smith"),
        ("Anne-Marie Smith", "anne\u2013marie  SMITH"),
        ('Bob "Bobby" Jones', "Bob \u201cBobby\u201d Jones"),
    ],
)
def test_names_match_across_typographic_apostrophes_quotes_and_dashes(legal, typed):
    assert same_name(legal, typed)


def test_a_different_name_must_match_the_legal_name(catalog, demo_data):
    demo_data["signature"]["typed_name"] = "Zoe OBrien"
    with pytest.raises(SubmissionInvalid) as refused:
        validate_submission(demo_data, catalog)
    assert "signature.typed_name: must match your legal name" in str(refused.value)
    assert "exactly" not in str(refused.value)
