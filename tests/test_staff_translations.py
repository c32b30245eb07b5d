"""Staff pages and the patient's language: the language a consent was signed in, each screening
question in the clinic's language beside the patient's, and the "not yet reviewed" mark on a
translation until an admin records who reviewed it (audited)."""

from __future__ import annotations

import html
import re

import pytest

from intake.archive.translation_models import TranslationReview
from tests.support.app import B12
from tests.support.staff import add_consent, events

PREFIX = f"{B12}-es"
MARK = "is not yet reviewed by the clinic's translator"


@pytest.fixture
def spanish_consent(archive, demo_data) -> str:
    return add_consent(archive, {**demo_data, "language": "es"})


def page_text(response) -> str:
    return html.unescape(response.text)


def test_a_spanish_consent_shows_its_language_and_both_wordings(
    admin, client, spanish_consent, catalog
):
    page = page_text(client.get(f"/staff/consents/{spanish_consent}"))
    assert "Read and signed in Spanish" in page
    en, es = catalog.get(B12), catalog.get(B12, "es")
    for q_en, q_es in zip(en.screening, es.screening, strict=True):
        # The patient's question, then the clinic's wording under it.
        assert re.search(
            re.escape(q_es.question)
            + r'<span class="clinic-question" lang="en">'
            + re.escape(q_en.question),
            page,
        ), q_en.id
    # Flag reasons are the clinic's words.
    assert en.question("heart_disease").reason in page
    assert es.acknowledgments[0].text in page
    assert "The Spanish text this patient signed is not yet reviewed" in page
    assert "The form has changed since" not in page


def test_an_english_consent_shows_english_only(admin, client, archive, demo_data):
    consent_id = add_consent(archive, demo_data)
    page = page_text(client.get(f"/staff/consents/{consent_id}"))
    assert "Read and signed in English" in page
    assert 'class="clinic-question"' not in page
    assert "this patient signed is not yet reviewed" not in page


def test_every_staff_page_marks_the_unreviewed_translation(desk, client):
    page = page_text(client.get("/staff/"))
    assert "The Spanish text of “Informed Consent: Vitamin B12" in page and MARK in page
    # Only an admin is offered to record the review.
    assert 'href="/staff/translations' not in page
    assert client.get("/staff/translations").status_code == 403


def record(admin, reviewer: str):
    """The page's form for the Spanish text (its fields named after it), or, once the review is
    recorded and the form gone, the same post sent again from an old page."""
    page = admin.client.get("/staff/translations").text
    token = re.search(rf'name="{PREFIX}-csrf_token" type="hidden" value="([^"]+)"', page)
    return admin.client.post(
        f"/staff/translations/{B12}/es",
        data={
            f"{PREFIX}-csrf_token": token.group(1) if token else admin.token(),
            f"{PREFIX}-reviewer": reviewer,
        },
    )


def test_an_admin_records_the_review_and_the_mark_goes(
    admin, client, archive, spanish_consent, catalog
):
    page = page_text(client.get("/staff/translations"))
    assert "Not yet reviewed by the clinic's translator" in page
    assert catalog.get(B12, "es").sha256 in page
    assert MARK in page_text(client.get("/staff/"))
    response = record(admin, "  María   Fernández ")
    assert response.status_code == 302 and response.headers["Location"] == "/staff/translations"
    page = page_text(client.get("/staff/translations"))
    assert "The review of the Spanish text is recorded." in page
    assert "Reviewed by María Fernández" in page
    assert MARK not in page
    consent_page = page_text(client.get(f"/staff/consents/{spanish_consent}"))
    assert "this patient signed is not yet reviewed" not in consent_page
    with archive.sessions() as session:
        (row,) = session.query(TranslationReview).all()
    assert (row.language, row.text_sha256, row.reviewer) == (
        "es",
        catalog.get(B12, "es").sha256,
        "María Fernández",
    )
    (event,) = events(archive, "translation reviewed")
    assert event.target == f"{B12}.es {catalog.get(B12).version}"
    assert event.staff_id == row.recorded_by


@pytest.mark.parametrize(
    ("reviewer", "message"),
    [
        ("   ", "Translator who reviewed it is required: the name of the translator"),
        ("x" * 201, "Translator who reviewed it is too long (at most 200 characters)"),
    ],
)
def test_a_bad_reviewer_name_is_refused_next_to_the_field(
    admin, archive, reviewer: str, message: str
):
    response = record(admin, reviewer)
    assert response.status_code == 422
    assert message in page_text(response)
    assert events(archive, "translation reviewed") == []


def test_a_review_is_recorded_once(admin, archive):
    record(admin, "María Fernández")
    response = record(admin, "Someone Else")
    assert "was already recorded: reviewed by María Fernández" in page_text(response)
    assert len(events(archive, "translation reviewed")) == 1


def test_only_an_admin_records_a_review(desk, client):
    response = client.post(f"/staff/translations/{B12}/es", data={f"{PREFIX}-reviewer": "X"})
    assert response.status_code in (400, 403)


def test_a_language_with_no_text_is_not_found(admin, client):
    assert admin.post(f"/staff/translations/{B12}/fr").status_code == 404
