"""The tablet flow through the test client: each step, errors, drafts, submit."""

from __future__ import annotations

import io
import json
import re
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from intake.archive.models import ARCHIVED, Consent
from intake.archive.search import SearchCriteria
from intake.archive.service import submission_of
from intake.tablet.drafts import FileDrafts
from tests.support.app import B12
from tests.support.tablet import csrf_token, step_fields


@pytest.fixture
def minor_data(demo_data: dict[str, Any]) -> dict[str, Any]:
    """The demo submission for a 15-year-old, signed by her mother."""
    today = date.today()
    demo_data["patient"]["date_of_birth"] = today.replace(year=today.year - 15).isoformat()
    demo_data["guardian"] = {
        "name": "Ann O'Brien",
        "relationship": "mother",
        "signature": {k: v for k, v in demo_data["signature"].items() if k != "typed_name"},
    }
    return demo_data


OUTSIDE_PAD = {"width": 600, "height": 200, "strokes": [[[5, 5], [900, 6]]]}


def drafts_of(app) -> FileDrafts:
    return FileDrafts(Path(app.instance_path) / "drafts", app.config["DRAFT_TTL_SECONDS"])


def stored_consents(app) -> list[Consent]:
    archive = app.extensions["archive"]
    return [archive.get(c.id) for c in archive.search(SearchCriteria()).consents]


def session_of(app, client) -> dict[str, Any]:
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    return app.session_interface.get_signing_serializer(app).loads(cookie.value)


def test_welcome_shows_the_clinic_and_the_form(client):
    page = client.get(f"/tablet/form/{B12}")
    assert page.status_code == 200
    assert "Skin Heaven Medical Spa" in page.text
    assert "Step 1 of 6" in page.text
    assert ">Start<" in page.text


def test_index_lists_the_forms(client):
    assert f"/tablet/form/{B12}" in client.get("/tablet/").text


def test_unknown_form_is_404(client):
    assert client.get("/tablet/form/botox").status_code == 404


def test_start_makes_a_draft_and_goes_to_details(app, client, tablet):
    response = tablet.start()
    assert response.headers["Location"] == "/tablet/details"
    assert drafts_of(app).get(session_of(app, client)["draft_id"]) is not None


@pytest.mark.parametrize("step", ["details", "health", "consent", "sign", "review", "done"])
def test_steps_without_a_draft_go_to_the_start(client, step):
    response = client.get(f"/tablet/{step}")
    assert response.status_code == 302
    assert response.headers["Location"] == "/tablet/"


@pytest.mark.parametrize(
    ("wanted", "filled_until", "lands_on"),
    [
        ("health", "health", "/tablet/details"),
        ("sign", "consent", "/tablet/consent"),
        ("review", "sign", "/tablet/sign"),
    ],
)
def test_a_step_cannot_be_skipped(client, tablet, demo_data, wanted, filled_until, lands_on):
    tablet.fill(demo_data, until=filled_until)
    if filled_until == "health":
        tablet.start()
    response = client.get(f"/tablet/{wanted}")
    assert response.headers["Location"] == lands_on


def test_every_page_is_no_store(client, tablet, demo_data):
    tablet.fill(demo_data)
    for path in ["/tablet/", f"/tablet/form/{B12}", "/tablet/details", "/tablet/review"]:
        assert client.get(path).headers["Cache-Control"] == "no-store", path


def test_post_without_csrf_token_is_refused(client, tablet, demo_data):
    tablet.start()
    fields = step_fields(demo_data)["details"]
    response = client.post("/tablet/details", data=fields)
    assert response.status_code == 400
    assert "This page has expired" in response.text
    response = client.post("/tablet/details", data={**fields, "csrf_token": "forged"})
    assert response.status_code == 400


def test_start_without_csrf_token_is_refused(client):
    assert client.post(f"/tablet/form/{B12}").status_code == 400


def test_the_cookie_holds_no_patient_data(app, client, tablet, demo_data):
    tablet.fill(demo_data)
    session = session_of(app, client)
    assert set(session) <= {"draft_id", "csrf_token", "_flashes"}
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    # What the cookie carries, decoded (Flask may compress it, which a look at the raw cookie
    # would not see through); and the raw cookie for the words too long to turn up by chance in
    # its random token and signature (a three-letter word would, once in some 2,000 cookies).
    decoded = json.dumps(session, ensure_ascii=False)
    for secret in ["O'Brien", "OBrien", "1985", "555", "Penicillin", "Warfarin", "Elm"]:
        assert secret not in decoded
        if len(secret) >= 6:
            assert secret not in cookie


def test_details_errors_sit_next_to_each_field_and_in_the_summary(tablet, demo_data):
    tablet.start()
    fields = step_fields(demo_data)["details"] | {"legal_name": "", "ec_phone": "12"}
    page = tablet.post("/tablet/details", fields)
    assert page.status_code == 422
    summary = page.text[page.text.index('id="error-summary"') : page.text.index("</div>")]
    assert 'role="alert"' in summary and 'aria-live="assertive"' in summary
    assert '<a href="#legal_name">Legal name is required</a>' in summary
    assert '<a href="#ec_phone">Emergency contact phone is not a phone number' in summary
    assert '<p class="error" id="legal_name-error">Legal name is required</p>' in page.text
    assert 'aria-describedby="legal_name-hint legal_name-error" aria-invalid="true"' in page.text


def test_details_keep_everything_typed_after_an_error(tablet, demo_data):
    tablet.start()
    fields = step_fields(demo_data)["details"] | {"date_of_birth": "1985-13-45"}
    page = tablet.post("/tablet/details", fields)
    assert page.status_code == 422
    assert "Date of birth must be a date written YYYY-MM-DD" in page.text
    assert 'value="Zoë O&#39;Brien"' in page.text
    assert 'value="1985-13-45"' in page.text
    assert "12 Elm St\nSpringfield, IL 62701</textarea>" in page.text
    assert 'value="+1 555 010 2001"' in page.text


def test_details_inputs_have_labels_autocomplete_and_inputmode(client, tablet):
    tablet.start()
    page = client.get("/tablet/details").text
    for field_id in ["legal_name", "date_of_birth", "phone", "email", "address", "ec_name"]:
        assert f'<label for="{field_id}">' in page
    assert re.search(r'<input[^>]*autocomplete="tel"[^>]*inputmode="tel"[^>]*type="tel"', page)
    # Typed, not picked: a text field with its format shown (a date picker cannot reach 1950).
    assert re.search(
        r'<input[^>]*autocomplete="bday"[^>]*inputmode="numeric"[^>]*type="text"', page
    )
    assert "Month, day, year: for example 04/12/1985." in page
    assert re.search(r'<input[^>]*inputmode="email"[^>]*type="email"', page)


def test_health_asks_every_screening_question_of_the_definition(
    client, tablet, demo_data, definition
):
    tablet.fill(demo_data, until="health")
    page = client.get("/tablet/health").text
    assert "Step 3 of 6" in page
    for n, question in enumerate(definition.screening, start=1):
        assert f'<legend><span class="number">{n}.</span> {question.question}' in page.replace(
            "&#39;", "'"
        )
        assert f'name="q_{question.id}" type="radio" value="yes"' in page
    assert "A clinician will review your answers" in page


def test_health_requires_every_answer(tablet, demo_data, definition):
    tablet.fill(demo_data, until="health")
    fields = step_fields(demo_data)["health"]
    del fields[f"q_{definition.screening[2].id}"]
    page = tablet.post("/tablet/health", fields | {"allergies": " "})
    assert page.status_code == 422
    assert '<a href="#allergies">Allergies is required</a>' in page.text
    assert f'<a href="#q_{definition.screening[2].id}-0">Question 3 must be answered' in page.text
    assert 'value="yes" checked' in page.text or "checked" in page.text


def test_screening_flags_are_not_shown_to_the_patient(client, tablet, demo_data, definition):
    tablet.fill(demo_data, until="consent")
    for path in ["/tablet/consent", "/tablet/health"]:
        page = client.get(path).text
        for question in definition.screening:
            assert question.reason not in page
        assert "Clinician review required" not in page


def test_consent_shows_the_whole_text_and_every_acknowledgment(
    client, tablet, demo_data, definition
):
    tablet.fill(demo_data, until="consent")
    page = client.get("/tablet/consent").text.replace("&#39;", "'")
    for tier in definition.side_effects:
        for item in tier.items:
            assert item in page
        assert tier.action in page
    for section in definition.sections:
        assert section.heading in page
    for ack in definition.acknowledgments:
        assert ack.text in page
    esign = next(a for a in definition.acknowledgments if a.esign)
    assert page.index("Signing electronically") < page.index(esign.text)


def test_consent_requires_every_tick(tablet, demo_data, definition):
    tablet.fill(demo_data, until="consent")
    fields = step_fields(demo_data)["consent"]
    esign = next(a for a in definition.acknowledgments if a.esign)
    del fields[f"a_{esign.id}"], fields[f"a_{definition.acknowledgments[0].id}"]
    page = tablet.post("/tablet/consent", fields)
    assert page.status_code == 422
    assert "Statement 1 must be ticked to go on" in page.text
    assert "The consent to sign electronically must be ticked to go on" in page.text
    assert f'id="a_{definition.acknowledgments[1].id}" name' in page.text


def test_sign_shows_the_pad_date_and_no_guardian_for_an_adult(client, tablet, demo_data):
    tablet.fill(demo_data, until="sign")
    page = client.get("/tablet/sign").text
    assert "data-pad" in page and "Sign here" in page and "signature-pad.js" in page
    assert date.today().strftime("%B %-d, %Y").replace(" 0", " ") in page
    assert "guardian_name" not in page
    assert "<script>" not in page and "onclick" not in page


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"typed_name": "Someone Else"}, "Your typed name must match your legal name"),
        ({"signature": ""}, "Your signature is empty: please sign on the pad"),
        ({"signature": "not json"}, "Your signature is empty: please sign on the pad"),
        (
            {"signature": json.dumps({"width": 600, "height": 200, "strokes": [[[5, 5], [6, 6]]]})},
            "Your signature is too small to be a signature",
        ),
        (
            {
                "signature": json.dumps(
                    {"width": 600, "height": 200, "strokes": [[[5, 5], [900, 6]]]}
                )
            },
            "Your signature lies outside the signature pad",
        ),
    ],
)
def test_sign_errors(tablet, demo_data, change, message):
    tablet.fill(demo_data, until="sign")
    page = tablet.post("/tablet/sign", step_fields(demo_data)["sign"] | change)
    assert page.status_code == 422
    assert message in page.text.replace("&#39;", "'")


def test_sign_keeps_the_drawn_strokes_after_an_error(tablet, demo_data):
    tablet.fill(demo_data, until="sign")
    fields = step_fields(demo_data)["sign"] | {"typed_name": ""}
    page = tablet.post("/tablet/sign", fields)
    assert page.status_code == 422
    assert "[[40, 150], [48, 110]" in page.text.replace("&#34;", '"')


def test_typed_name_matches_regardless_of_case_and_spacing(tablet, demo_data):
    tablet.fill(demo_data, until="sign")
    fields = step_fields(demo_data)["sign"] | {"typed_name": "  zoë   o'brien "}
    assert tablet.post("/tablet/sign", fields).headers["Location"] == "/tablet/review"


def test_a_minor_needs_a_guardian_with_own_signature(client, tablet, minor_data):
    tablet.fill(minor_data, until="sign")
    page = client.get("/tablet/sign").text
    assert "a parent or legal guardian signs below" in page
    fields = {k: v for k, v in step_fields(minor_data)["sign"].items() if "guardian" not in k}
    page = tablet.post("/tablet/sign", fields)
    assert page.status_code == 422
    text = page.text.replace("&#39;", "'")
    assert "The guardian's name is required" in text
    assert "The guardian's signature is empty: please sign on the pad" in text
    response = tablet.post("/tablet/sign", step_fields(minor_data)["sign"])
    assert response.headers["Location"] == "/tablet/review"


def test_back_keeps_answers_even_unfinished_ones(client, tablet, demo_data):
    tablet.fill(demo_data, until="health")
    fields = step_fields(demo_data)["health"] | {"allergies": "Latex", "nav": "back"}
    del fields["medications"]
    response = tablet.post("/tablet/health", fields)
    assert response.headers["Location"] == "/tablet/details"
    assert 'value="Zoë O&#39;Brien"' in client.get("/tablet/details").text
    page = client.get("/tablet/health").text
    assert re.search(r">\s*Latex</textarea>", page)
    assert re.search(r'<input checked id="q_heart_disease-0"', page)


def test_review_lists_every_answer_with_edit_links(client, tablet, demo_data, definition):
    tablet.fill(demo_data)
    page = client.get("/tablet/review").text.replace("&#39;", "'")
    assert "Step 6 of 6" in page
    for value in ["Zoë O'Brien", "1985-04-12", "Ann O'Brien", "Warfarin 5 mg daily"]:
        assert value in page
    for question in definition.screening:
        assert question.question in page
    for step in ["details", "health", "consent", "sign"]:
        assert f'href="/tablet/{step}?from=review"' in page
    assert re.search(r'<svg class="signature-preview"[^>]*>\s*<path d="M [\d. ]+ C ', page)
    assert 'name="submit_token"' in page


def test_edit_from_review_returns_to_review(tablet, demo_data):
    tablet.fill(demo_data)
    fields = step_fields(demo_data)["details"] | {"phone": "+1 555 010 9999"}
    response = tablet.post("/tablet/details?from=review", fields)
    assert response.headers["Location"] == "/tablet/review"


def test_review_reports_problems_across_steps_and_hides_submit(client, tablet, demo_data):
    tablet.fill(demo_data)
    fields = step_fields(demo_data)["details"] | {"legal_name": "Zoe Smith"}
    tablet.post("/tablet/details?from=review", fields)
    page = client.get("/tablet/review").text
    assert 'href="/tablet/sign?from=review">Sign: Typed name must match your legal name' in page
    assert 'name="submit_token"' not in page


def test_wipe_deletes_the_draft_and_clears_the_session(app, client, tablet, demo_data):
    tablet.fill(demo_data, until="consent")
    draft_id = session_of(app, client)["draft_id"]
    response = tablet.wipe("/tablet/consent")
    assert response.headers["Location"] == f"/tablet/form/{B12}"
    assert drafts_of(app).get(draft_id) is None
    assert not list((Path(app.instance_path) / "drafts").glob("*.json"))
    assert client.get("/tablet/details").headers["Location"] == "/tablet/"


def test_a_draft_expires_after_its_time_to_live(app, client, tablet, demo_data):
    app.config["DRAFT_TTL_SECONDS"] = 1
    tablet.fill(demo_data, until="consent")
    time.sleep(1.1)
    response = client.get("/tablet/consent")
    assert response.headers["Location"] == "/tablet/"
    assert "The form was cleared" in client.get("/tablet/").text
    assert not list((Path(app.instance_path) / "drafts").glob("*.json"))


def test_idle_timeout_settings_reach_the_page(app, client, tablet):
    app.config.update(IDLE_TIMEOUT_SECONDS=7, IDLE_WARNING_SECONDS=3)
    tablet.start()
    page = client.get("/tablet/details").text
    assert 'data-idle-seconds="7" data-warning-seconds="3"' in page
    assert 'id="idle-dialog"' in page and "Are you still there?" in page
    assert re.search(r'src="/static/tablet.js\?v=[0-9a-f]{16}"', page)


def test_kiosk_mode_locks_the_tablet_to_one_form(app, client, tablet, catalog):
    app.config["KIOSK_FORM"] = B12
    assert client.get("/tablet/").headers["Location"] == f"/tablet/form/{B12}"
    page = client.get(f"/tablet/form/{B12}").text
    assert "Choose another form" not in page
    for other in set(catalog.ids()) - {B12}:
        assert client.get(f"/tablet/form/{other}").status_code == 404
    tablet.start()
    assert tablet.wipe().headers["Location"] == "/tablet/"


# Submitting renders the consent PDF.


def test_submit_stores_one_consent_and_shows_done(app, client, tablet, demo_data):
    tablet.fill(demo_data)
    response = tablet.submit()
    assert response.headers["Location"] == "/tablet/done"
    (consent,) = stored_consents(app)
    assert consent.status == ARCHIVED and consent.pdf_sha256
    stored = submission_of(consent)
    assert stored["patient"]["legal_name"] == "Zoë O'Brien"
    assert stored["screening"] == demo_data["screening"]
    assert stored["device"]["ip"] == "127.0.0.1"
    page = client.get("/tablet/done").text
    assert "hand the tablet back to the front desk" in page
    assert 'data-idle-seconds="90" data-warning-seconds="0"' in page
    draft = drafts_of(app).get(session_of(app, client)["draft_id"])
    assert draft.answers == {} and draft.consent_id == consent.id


def test_submit_twice_makes_exactly_one_consent(app, client, tablet, demo_data):
    tablet.fill(demo_data)
    page = client.get("/tablet/review").text
    fields = {
        "csrf_token": csrf_token(page),
        "submit_token": re.search(r'name="submit_token" type="hidden" value="([^"]+)"', page)[1],
    }
    first = client.post("/tablet/submit", data=fields)
    again = client.post("/tablet/submit", data=fields)
    assert first.headers["Location"] == again.headers["Location"] == "/tablet/done"
    assert len(stored_consents(app)) == 1
    tablet.wipe("/tablet/done")
    late = client.post("/tablet/submit", data=fields)
    assert late.status_code in (302, 400)
    assert len(stored_consents(app)) == 1


def test_a_double_tap_at_the_same_moment_makes_one_consent(app, tablet, demo_data):
    tablet.fill(demo_data)
    page = tablet.client.get("/tablet/review").text
    token = re.search(r'name="submit_token" type="hidden" value="([^"]+)"', page)[1]
    fields = {"csrf_token": csrf_token(page), "submit_token": token}
    cookie = tablet.client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    results = []

    def tap() -> None:
        other = app.test_client()
        other.set_cookie(app.config["SESSION_COOKIE_NAME"], cookie)
        results.append(other.post("/tablet/submit", data=fields).headers["Location"])

    taps = [threading.Thread(target=tap) for _ in range(4)]
    for t in taps:
        t.start()
    for t in taps:
        t.join()
    assert results == ["/tablet/done"] * 4
    assert len(stored_consents(app)) == 1


def test_a_stale_submit_token_is_refused(app, tablet, demo_data):
    tablet.fill(demo_data)
    page = tablet.client.get("/tablet/review").text
    fields = {"csrf_token": csrf_token(page), "submit_token": "x" * 43}
    response = tablet.client.post("/tablet/submit", data=fields)
    assert response.headers["Location"] == "/tablet/"
    assert stored_consents(app) == []


def test_a_minor_submission_keeps_the_guardian(app, tablet, minor_data):
    tablet.fill(minor_data)
    assert tablet.submit().headers["Location"] == "/tablet/done"
    (consent,) = stored_consents(app)
    stored = submission_of(consent)
    assert consent.is_minor
    assert stored["guardian"]["name"] == "Ann O'Brien"
    assert stored["guardian"]["relationship"] == "mother"


def test_when_the_pdf_fails_the_consent_is_kept_and_no_copy_is_offered(
    app, client, tablet, demo_data, monkeypatch
):
    def broken(*args: Any, **kwargs: Any) -> bytes:
        raise RuntimeError("renderer crashed")

    monkeypatch.setattr("intake.archive.sealing.render_consent", broken)
    tablet.fill(demo_data)
    assert tablet.submit().headers["Location"] == "/tablet/done"
    page = client.get("/tablet/done").text
    assert "Your consent has been received." in page
    assert "phone-copy" not in page and "Ask the front desk" in page
    (consent,) = stored_consents(app)
    assert consent.status == "pending" and submission_of(consent)["screening"]


def test_when_the_archive_cannot_write_the_patient_hands_the_tablet_back(
    app, client, tablet, demo_data, caplog
):
    archive = app.extensions["archive"]
    tablet.fill(demo_data)
    with archive.engine.begin() as connection:  # the database refuses every consent from now on
        connection.exec_driver_sql("ALTER TABLE consents RENAME TO consents_away")
    response = tablet.submit()
    assert response.status_code == 503
    assert "Please hand the tablet back to the front desk" in response.text
    assert "Nothing you entered has been lost" in response.text
    assert "Zoë" not in caplog.text and "O'Brien" not in caplog.text
    assert "could not be saved (OperationalError)" in caplog.text
    with archive.engine.begin() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM consents_away").scalar() == 0
        connection.exec_driver_sql("ALTER TABLE consents_away RENAME TO consents")
    review = client.get("/tablet/review")
    assert review.status_code == 200 and "Zoë O&#39;Brien" in review.text, "the draft is kept"
    assert tablet.submit().headers["Location"] == "/tablet/done"
    (consent,) = stored_consents(app)
    assert consent.status == ARCHIVED


@pytest.mark.parametrize(
    "extra",
    [
        {"padding": "x" * 400_000},
        {"device": {"user_agent": "Clinic kiosk 7", "ip": "10.9.9.9"}},
        {"typed_name": "Someone Else"},
    ],
    ids=["400KB", "fake-device", "typed-name"],
)
def test_extra_keys_in_the_pads_json_are_dropped_before_sealing(app, tablet, minor_data, extra):
    fields = step_fields(minor_data)
    for name in ("signature", "guardian_signature"):
        fields["sign"][name] = json.dumps({**json.loads(fields["sign"][name]), **extra})
    tablet.fill(minor_data, until="sign")
    assert tablet.post("/tablet/sign", fields["sign"]).status_code == 302
    assert tablet.submit().headers["Location"] == "/tablet/done"
    (consent,) = stored_consents(app)
    pdf = app.extensions["archive"].pdf(consent.id)
    (attached,) = PdfReader(io.BytesIO(pdf)).attachments["submission.json"]
    for sealed in (json.loads(attached), submission_of(consent)):
        assert set(sealed["signature"]) == {"typed_name", "width", "height", "strokes"}
        assert set(sealed["guardian"]["signature"]) == {"width", "height", "strokes"}
        assert sealed["signature"]["typed_name"] == minor_data["signature"]["typed_name"]
        assert sealed["signature"]["strokes"] == minor_data["signature"]["strokes"]
        assert sealed["device"]["ip"] == "127.0.0.1"
    assert len(attached) < 100_000
