"""What patients tripped over on the tablet, each fixed: the pages as the test client gets
them (the browser's side is in tests/test_tablet_browser.py)."""

from __future__ import annotations

import re
import time
from datetime import date
from typing import Any

import pytest

from intake.archive.search import SearchCriteria
from intake.archive.service import submission_of
from intake.pdf.signature import catmull_rom, svg_path
from intake.submission import SubmissionInvalid, validate_submission
from intake.tablet.dates import typed_to_iso
from intake.tablet.drafts import FileDrafts
from tests.support.pdf import pdf_words
from tests.support.staff import StaffActions, make_staff
from tests.support.tablet import step_fields

pytestmark = pytest.mark.usefixtures("fast_passwords")


@pytest.fixture
def minor_data(demo_data: dict[str, Any]) -> dict[str, Any]:
    today = date.today()
    demo_data["patient"]["legal_name"] = "Lena Nowak"
    demo_data["signature"]["typed_name"] = "Lena Nowak"
    demo_data["patient"]["date_of_birth"] = today.replace(year=today.year - 15).isoformat()
    demo_data["guardian"] = {
        "name": "Maria Nowak",
        "relationship": "mother",
        "signature": {k: v for k, v in demo_data["signature"].items() if k != "typed_name"},
    }
    return demo_data


def sections(page: str) -> list[str]:
    return re.findall(r'<section class="signer".*?</section>', page, re.S)


def test_the_ipad_apostrophe_in_the_typed_name_is_accepted(tablet, demo_data):
    demo_data["signature"]["typed_name"] = "Zoë O\u2019Brien"
    tablet.fill(demo_data, until="sign")
    response = tablet.post("/tablet/sign", step_fields(demo_data)["sign"])
    assert response.status_code == 302 and response.headers["Location"] == "/tablet/review"


def test_each_pad_of_a_minor_has_its_own_statement_naming_the_patient(
    client, tablet, minor_data, definition
):
    tablet.fill(minor_data, until="sign")
    page = client.get("/tablet/sign").text.replace("&#39;", "'")
    patient, guardian = sections(page)
    assert "Patient: <strong>Lena Nowak</strong>" in patient
    assert " ".join(definition.signature.meaning.split()) in " ".join(patient.split())
    assert definition.signature.guardian_meaning not in patient
    assert "Signing for the patient: <strong>Lena Nowak</strong>" in guardian
    assert " ".join(definition.signature.guardian_meaning.split()) in " ".join(guardian.split())
    # The statement above both names nobody; each is under its own pad's heading.
    before = page[: page.index('<section class="signer"')]
    assert definition.signature.guardian_meaning not in before


def test_the_guardian_blocks_errors_come_with_the_pads_at_once(tablet, minor_data):
    tablet.fill(minor_data, until="sign")
    fields = step_fields(minor_data)["sign"] | {
        "guardian_name": "",
        "guardian_relationship": "",
        "guardian_signature": '{"width": 600, "height": 200, "strokes": []}',
    }
    page = tablet.post("/tablet/sign", fields).text
    for anchor in ("guardian_name", "guardian_relationship", "guardian_signature-pad"):
        assert f'<a href="#{anchor}">' in page, anchor


def test_the_pad_script_lets_the_server_report_every_error(client):
    script = client.get("/static/signature-pad.js").text
    assert "preventDefault" not in script.split("data-sign-form")[1]


def the_draft(app, client):
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    draft_id = app.session_interface.get_signing_serializer(app).loads(cookie)["draft_id"]
    return FileDrafts(app.config["DRAFTS_DIR"], app.config["DRAFT_TTL_SECONDS"]).get(draft_id)


def test_the_thank_you_screen_says_what_happens(app, client, tablet, demo_data):
    app.config["DONE_CLEAR_SECONDS"] = 75
    tablet.fill(demo_data)
    tablet.submit()
    page = client.get("/tablet/done").text
    assert 'data-idle-seconds="75"' in page
    assert "clears itself after 75 seconds without a touch" in page
    draft = the_draft(app, client)
    until = time.strftime("%H:%M", time.localtime(draft.copy_expires_at))
    assert f"The link works once, until {until}." in page
    assert "for 10 minutes" not in page and "in a moment" not in page


def test_a_used_link_and_an_expired_link_each_say_so(app, client, tablet, demo_data):
    tablet.fill(demo_data)
    tablet.submit()
    token = the_draft(app, client).copy_token
    phone = app.test_client()
    assert phone.get(f"/copy/{token}").status_code == 200
    again = phone.get(f"/copy/{token}")
    assert again.status_code == 410 and again.mimetype == "text/html"
    assert "This link was used already" in again.text
    gone = phone.get(f"/copy/{'A' * 43}")
    assert gone.status_code == 410 and "This link has expired" in gone.text


def test_the_review_draws_the_signature_with_the_pdfs_curve(client, tablet, demo_data):
    tablet.fill(demo_data)
    page = client.get("/tablet/review").text
    paths = re.findall(r'<path d="([^"]+)"/>', page)
    strokes = demo_data["signature"]["strokes"]
    assert paths == [svg_path([tuple(p) for p in stroke]) for stroke in strokes]
    first = [tuple(p) for p in strokes[0]]
    c1, c2, end = next(catmull_rom(first))
    assert f"C {round(c1[0], 2):g} {round(c1[1], 2):g}" in paths[0]
    assert "<polyline" not in page


def test_medical_terms_get_a_plain_line_and_every_question_a_not_sure(
    client, tablet, demo_data, definition
):
    plain = {q.id: q.plain for q in definition.screening if q.plain}
    assert {"polycythemia_vera", "interacting_medicines_or_alcohol"} <= set(plain)
    tablet.fill(demo_data, until="health")
    page = client.get("/tablet/health").text.replace("&#39;", "'")
    for qid, line in plain.items():
        assert f'<p class="hint plain" id="q_{qid}-hint">{line}</p>' in page
        assert f'id="q_{qid}" aria-describedby="q_{qid}-hint"' in page
    for q in definition.screening:
        assert f'name="q_{q.id}" type="radio" value="not_sure"' in page
    assert page.count("<span>Not sure</span>") == len(definition.screening)


def test_not_sure_is_flagged_like_a_yes_with_its_own_words(
    app, archive, client, tablet, demo_data, definition
):
    demo_data["screening"] = {q.id: False for q in definition.screening}
    fields = step_fields(demo_data)
    fields["health"]["q_polycythemia_vera"] = "not_sure"
    tablet.start()
    for step in ("details", "health", "consent", "sign"):
        assert tablet.post(f"/tablet/{step}", fields[step]).status_code == 302, step
    review = client.get("/tablet/review").text
    assert "<dt>Do you have polycythemia vera?</dt><dd>Not sure</dd>" in review
    tablet.submit()
    (found,) = archive.search(SearchCriteria()).consents
    consent = archive.get(found.id)
    assert consent.needs_review
    assert submission_of(consent)["screening"]["polycythemia_vera"] == "not_sure"
    words = pdf_words(archive.pdf(consent.id))
    assert "Clinician review required: 1 screening answer(s) below." in words
    assert (
        "Not sure Do you have polycythemia vera? The patient is not sure: clinician review "
        "required (CAUTION); ask before injecting" in words
    )
    clinician = StaffActions(client)
    make_staff(archive, "clinician")
    clinician.login_as("clinician")
    page = client.get(f"/staff/consents/{consent.id}").text
    row = page[page.index('<span class="screening-question">Do you have polycythemia') :][:600]
    assert '<span class="answer">Not sure</span>' in row
    assert "The patient is not sure: ask before injecting." in row
    assert "flagged level-caution" in page


@pytest.mark.parametrize("answer", ["not sure", "maybe", None])
def test_only_the_three_answers_are_taken(catalog, demo_data, answer):
    demo_data["screening"]["heart_disease"] = answer
    with pytest.raises(SubmissionInvalid) as refused:
        validate_submission(demo_data, catalog)
    assert "screening.heart_disease: must be answered yes or no, or not sure" in str(refused.value)


@pytest.mark.parametrize(
    ("typed", "language", "kept"),
    [
        ("04/12/1985", "en", "1985-04-12"),
        ("4/12/1985", "en", "1985-04-12"),
        ("04-12-1985", "en", "1985-04-12"),
        ("12/04/1985", "es", "1985-04-12"),
        ("1985-04-12", "es", "1985-04-12"),
        ("02/30/1985", "en", "02/30/1985"),
        ("1985-13-45", "en", "1985-13-45"),
        ("April 12", "en", "April 12"),
    ],
)
def test_a_typed_date_of_birth_becomes_the_submissions_date(typed, language, kept):
    assert typed_to_iso(typed, language) == kept


def test_the_date_of_birth_is_typed_and_shown_back_in_the_same_order(client, tablet, demo_data):
    tablet.start()
    fields = step_fields(demo_data)["details"] | {"date_of_birth": "04/12/1985"}
    assert tablet.post("/tablet/details", fields).headers["Location"] == "/tablet/health"
    page = client.get("/tablet/details").text
    assert 'value="04/12/1985"' in page
    future = step_fields(demo_data)["details"] | {"date_of_birth": "01/01/2099"}
    page = tablet.post("/tablet/details", future).text
    assert "Date of birth must be a real date of birth, not in the future" in page
    assert 'data-future="A date of birth cannot be in the future."' in page
