"""The consent list and search, a consent's page, its PDF, and clinician reviews."""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from pathlib import Path

import pytest

from intake.archive.service import NOTE_MAX
from tests.support.app import on_both_databases
from tests.support.staff import (
    NAMES,
    StaffActions,
    add_consent,
    events,
    links,
    make_staff,
    patient,
    session_of,
)

pytestmark = pytest.mark.usefixtures("fast_passwords")
app_config = pytest.fixture(on_both_databases, name="app_config")

ZOE = "Zoë O'Brien"


@pytest.fixture
def clinician(archive, app) -> StaffActions:
    make_staff(archive, "clinician")
    actions = StaffActions(app.test_client())
    actions.login_as("clinician")
    return actions


@pytest.fixture
def three(archive, demo_data) -> dict[str, str]:
    """Three pending consents: Zoë (flagged), Liam and Ana (not), signed on three days."""
    return {
        "zoe": add_consent(archive, demo_data, seal=False),
        "liam": add_consent(
            archive,
            patient(
                demo_data,
                "Liam Smith",
                born="1990-01-02",
                signed_at="2026-11-01T09:00:00-06:00",
                flagged=False,
            ),
            seal=False,
        ),
        "ana": add_consent(
            archive,
            patient(
                demo_data,
                "Ana García",
                born="1972-07-30",
                signed_at="2026-10-15T16:45:00-05:00",
                flagged=False,
            ),
            seal=False,
        ),
    }


def names_listed(html: str) -> list[str]:
    """The names in the list, in order."""
    row = r'<th scope="row" class="name"><a [^>]*>([^<]*)</a>'
    return re.findall(row, html.replace("&#39;", "'"))


# --- the list --------------------------------------------------------------------------------


def test_the_list_shows_each_consent_newest_first(desk, three):
    page = desk.client.get("/staff/")
    assert page.status_code == 200
    assert names_listed(page.text) == ["Ana García", "Liam Smith", ZOE]
    assert "Apr 12, 1985" in page.text and "Nov 29, 2026" in page.text
    assert "Vitamin B12 (methylcobalamin) intramuscular injection" in page.text
    assert "PDF being made" in page.text and "Needs review" in page.text


def test_an_archived_and_a_reviewed_consent_say_so(archive, clinician, demo_data):
    consent_id = add_consent(archive, demo_data)
    clinician.post(f"/staff/consents/{consent_id}/review", {"note": "Checked with the patient."})
    page = clinician.client.get("/staff/").text
    assert "Archived" in page and "Reviewed" in page and "Needs review" not in page


@pytest.mark.parametrize("typed", ["zoe obrien", "ZOË", "o'brien", "Zo", "  zoe   O’Brien "])
def test_search_by_name_ignores_case_and_accents(desk, three, typed):
    response = desk.search(name=typed)
    assert response.status_code == 302 and response.headers["Location"] == "/staff/"
    page = desk.client.get("/staff/")
    assert names_listed(page.text) == [ZOE]
    assert "Consents that match" in page.text


def test_search_by_date_of_birth(desk, three):
    desk.search(date_of_birth="1990-01-02")
    assert names_listed(desk.client.get("/staff/").text) == ["Liam Smith"]


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("2026-10-15", "2026-11-01", ["Ana García", "Liam Smith"]),
        ("2026-11-02", "", [ZOE]),
        ("", "2026-10-15", ["Ana García"]),
        ("2026-11-29", "2026-11-29", [ZOE]),
    ],
)
def test_search_by_signing_dates(desk, three, start, end, expected):
    desk.search(signed_from=start, signed_to=end)
    assert names_listed(desk.client.get("/staff/").text) == expected


def test_search_is_kept_with_the_login_and_cleared_on_demand(archive, desk, three):
    desk.search(name="liam")
    assert names_listed(desk.client.get("/staff/").text) == ["Liam Smith"]
    page = desk.client.get("/staff/").text
    assert 'value="liam"' in page, "the search form shows what was searched"
    desk.post("/staff/search", {"name": "liam", "clear": "1"})
    assert len(names_listed(desk.client.get("/staff/").text)) == 3


def test_the_flagged_not_reviewed_filter_is_for_clinicians(desk, clinician, three):
    page = clinician.client.get("/staff/").text
    assert "Flagged, not yet reviewed" in page
    clinician.search(needs_review="y")
    assert names_listed(clinician.client.get("/staff/").text) == [ZOE]
    # The front desk has no such filter; sending it anyway changes nothing.
    assert "Flagged, not yet reviewed" not in desk.client.get("/staff/").text
    desk.search(needs_review="y")
    assert len(names_listed(desk.client.get("/staff/").text)) == 3


def test_a_reviewed_consent_leaves_the_needs_review_list(archive, clinician, three):
    clinician.search(needs_review="y")
    response = clinician.post(f"/staff/consents/{three['zoe']}/review", {"note": "Seen; OK to go."})
    assert response.status_code == 302
    page = clinician.client.get("/staff/").text
    assert names_listed(page) == [] and "No consents match this search." in page
    assert archive.get(three["zoe"]).needs_review is False


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        (
            {"date_of_birth": "1985-02-30"},
            "date_of_birth",
            "Date of birth must be a real date, written YYYY-MM-DD",
        ),
        (
            {"signed_from": "yesterday"},
            "signed_from",
            "Signed from must be a real date, written YYYY-MM-DD",
        ),
        (
            {"signed_from": "2026-11-02", "signed_to": "2026-11-01"},
            "signed_to",
            "Signed to must be on or after the “Signed from” date",
        ),
    ],
)
def test_bad_search_input_is_named_at_its_field_and_the_rest_kept(
    desk, three, fields, field, message
):
    response = desk.search(name="zoe", **fields)
    assert response.status_code == 422
    error = re.search(
        rf'<div class="field has-error">\s*<label for="{field}">[^<]*</label>\s*'
        rf'<p class="error" id="{field}-error">([^<]*)</p>',
        response.text,
    )
    assert error and error.group(1) == message
    assert 'value="zoe"' in response.text
    for name, value in fields.items():
        assert f'value="{value}"' in response.text, name
    assert "Correct the search above" in response.text


def test_the_list_goes_25_at_a_time_with_older_links(archive, desk, demo_data):
    made = [
        add_consent(
            archive,
            patient(demo_data, f"Patient {chr(65 + i // 26)}{chr(65 + i % 26)}"),
            seal=False,
        )
        for i in range(30)
    ]
    first = desk.client.get("/staff/").text
    assert len(names_listed(first)) == 25
    assert names_listed(first)[0] == "Patient BD", "newest first"
    older = re.search(r'href="(/staff/\?cursor=[^"]+)">Older</a>', first)
    assert older
    second = desk.client.get(older.group(1).replace("&amp;", "&")).text
    assert names_listed(second) == [f"Patient A{chr(65 + i)}" for i in range(4, -1, -1)]
    assert ">Older</a>" not in second and ">Newest</a>" in second
    assert set(names_listed(first)).isdisjoint(names_listed(second))
    assert len(made) == 30


@pytest.mark.parametrize(
    "cursor",
    [
        "20261301T000000000000." + "0" * 32,  # month 13
        "20260230T000000000000." + "0" * 32,  # 30 February
        "20260101T250000000000." + "0" * 32,  # hour 25
        "not-a-cursor",
    ],
)
def test_a_cursor_that_names_no_moment_shows_the_first_page(desk, three, cursor):
    page = desk.client.get(f"/staff/?cursor={cursor}")
    assert page.status_code == 200
    assert len(names_listed(page.text)) == len(three)


def test_no_patient_data_in_any_url_or_the_cookie(app, desk, three):
    desk.search(name="zoe", date_of_birth="1985-04-12")
    pages = [desk.client.get("/staff/"), desk.client.get(f"/staff/consents/{three['zoe']}")]
    addresses = [address for page in pages for address in links(page.text)]
    assert any("/staff/consents/" in a for a in addresses)
    kept = session_of(app, desk.client)
    assert set(kept) <= {"staff_token", "csrf_token"}, kept  # two random tokens, nothing else
    cookie = str(kept)
    # Random ids and cursors (hex, a cursor's moment) can spell "1985" by chance: read around them.
    readable = [re.sub(r"\d{8}T\d{12}|[0-9a-f]{12,}", "", a.lower()) for a in addresses]
    for secret in ("zoe", "Zo", "Brien", "1985", "04-12"):
        assert not any(secret.lower() in a for a in readable), secret
    for secret in ("Zoë", "Brien", "1985-04-12"):  # long enough not to occur by chance
        assert secret not in cookie


# --- a consent's page ------------------------------------------------------------------------


def test_the_consent_page_shows_answers_flags_and_the_seal(archive, desk, demo_data, definition):
    consent_id = add_consent(archive, demo_data)
    page = desk.client.get(f"/staff/consents/{consent_id}")
    assert page.status_code == 200
    text = page.text.replace("&#39;", "'")
    for shown in (
        ZOE,
        "Apr 12, 1985",
        "+1 555 010 2000",
        "Ann O'Brien",
        "Warfarin 5 mg daily",
        "Atrial fibrillation",
        "Dr. Maria Nowak",
        "Nov 29, 2026, 10:15 AM (UTC-05:00)",
        "203.0.113.5",
        "iPad; CPU OS 18_1",
    ):
        assert shown in text, shown
    assert "2 screening answers for a clinician: not yet reviewed" in text
    assert "Do you have heart disease?" in text
    flagged = re.findall(
        r'<li class="flagged level-(\w+)">\s*<div class="screening-row">\s*'
        r'<span class="screening-question">([^<]+)</span>\s*<span class="answer">Yes</span>',
        text,
    )
    assert flagged == [
        ("caution", "Do you have a bleeding or clotting disorder, or do you take a blood thinner?"),
        ("caution", "Do you have heart disease?"),
    ]
    assert "Bleeding risk with intramuscular injection." in text
    for acknowledgment in definition.acknowledgments:
        assert f"✓ {acknowledgment.text}".replace("'", "&#39;") in page.text
    assert "Sealed by the clinic, unchanged since" in text and "NOT VERIFIED" not in text
    assert f'<iframe class="pdf-frame" src="/staff/consents/{consent_id}/pdf"' in text
    assert f'href="/staff/consents/{consent_id}/download"' in text
    assert [e.target for e in events(archive, "consent viewed")] == [consent_id]


def test_a_minor_shows_the_guardian(archive, desk, demo_data):
    data = patient(demo_data, "Lena Nowak", born="2012-03-04")
    data["guardian"] = {
        "name": "Maria Nowak",
        "relationship": "mother",
        "signature": {k: v for k, v in data["signature"].items() if k != "typed_name"},
    }
    page = desk.client.get(f"/staff/consents/{add_consent(archive, data, seal=False)}").text
    assert "Maria Nowak (mother)" in page and "a minor when signing" in page


def test_patient_text_is_escaped(archive, desk, demo_data):
    demo_data["health"]["allergies"] = "<script>alert(1)</script> & <b>bold</b>"
    page = desk.client.get(f"/staff/consents/{add_consent(archive, demo_data, seal=False)}").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in page
    assert "<script>alert" not in page and "<b>bold" not in page


def test_a_changed_pdf_is_not_verified(archive, desk, demo_data):
    consent_id = add_consent(archive, demo_data)
    stored = Path(archive.blobs.path(archive.get(consent_id).pdf_sha256))
    stored.write_bytes(stored.read_bytes() + b"\n% appended later\n")
    page = desk.client.get(f"/staff/consents/{consent_id}").text
    assert "NOT VERIFIED" in page and "added after the sealed part" in page
    assert "Sealed by the clinic, unchanged since" not in page


def test_a_pending_consent_has_no_pdf_yet(archive, desk, demo_data):
    consent_id = add_consent(archive, demo_data, seal=False)
    page = desk.client.get(f"/staff/consents/{consent_id}").text
    assert "The PDF is being made" in page and "<iframe" not in page and "/download" not in page
    assert desk.client.get(f"/staff/consents/{consent_id}/pdf").status_code == 404
    assert desk.client.get(f"/staff/consents/{consent_id}/download").status_code == 404


@pytest.mark.parametrize("consent_id", ["0" * 32, "not-an-id", "A" * 32])
def test_an_unknown_consent_is_404(desk, consent_id):
    for suffix in ("", "/pdf", "/download"):
        response = desk.client.get(f"/staff/consents/{consent_id}{suffix}")
        assert response.status_code == 404
    assert "Not found" in desk.client.get(f"/staff/consents/{consent_id}").text


def test_download_gives_the_stored_bytes_under_a_name_without_the_patient(archive, desk, demo_data):
    consent_id = add_consent(archive, demo_data)
    response = desk.client.get(f"/staff/consents/{consent_id}/download")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert hashlib.sha256(response.data).hexdigest() == archive.get(consent_id).pdf_sha256
    disposition = response.headers["Content-Disposition"]
    assert disposition == f"attachment; filename=consent-{consent_id}.pdf"
    assert response.headers["Cache-Control"] == "no-store"
    assert [e.target for e in events(archive, "consent downloaded")] == [consent_id]


def test_the_pdf_is_shown_inline_and_counts_as_a_view(archive, desk, demo_data):
    consent_id = add_consent(archive, demo_data)
    response = desk.client.get(f"/staff/consents/{consent_id}/pdf")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    assert response.headers["Content-Disposition"].startswith("inline;")
    assert [e.target for e in events(archive, "consent viewed")] == [consent_id]
    assert events(archive, "consent downloaded") == []


# --- reviews ---------------------------------------------------------------------------------


def test_a_review_is_kept_beside_the_untouched_pdf(archive, clinician, demo_data):
    consent_id = add_consent(archive, demo_data)
    before = archive.pdf(consent_id)
    page = clinician.client.get(f"/staff/consents/{consent_id}").text
    assert 'name="note"' in page
    response = clinician.post(
        f"/staff/consents/{consent_id}/review", {"note": "Spoke with <Zoë>; INR stable."}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == f"/staff/consents/{consent_id}"
    page = clinician.client.get(f"/staff/consents/{consent_id}").text
    assert "Spoke with &lt;Zoë&gt;; INR stable." in page and NAMES["clinician"] in page
    assert "screening answers for a clinician: reviewed" in page
    assert archive.pdf(consent_id) == before
    [review] = archive.reviews(consent_id)
    assert review.staff_name == NAMES["clinician"]
    assert [e.target for e in events(archive, "consent reviewed")] == [consent_id]


@pytest.mark.parametrize(
    ("note", "message"),
    [
        ("", "Write a review note."),
        ("   ", "Write a review note."),
        ("x" * (NOTE_MAX + 1), f"A review note can be at most {NOTE_MAX} characters."),
    ],
)
def test_a_bad_review_note_is_named_and_nothing_kept(archive, clinician, demo_data, note, message):
    consent_id = add_consent(archive, demo_data, seal=False)
    response = clinician.post(f"/staff/consents/{consent_id}/review", {"note": note})
    assert response.status_code == 422 and message in response.text
    assert archive.reviews(consent_id) == [] and archive.get(consent_id).needs_review


def test_the_front_desk_sees_reviews_but_no_review_form(archive, desk, clinician, demo_data):
    consent_id = add_consent(archive, demo_data, seal=False)
    clinician.post(f"/staff/consents/{consent_id}/review", {"note": "All fine."})
    page = desk.client.get(f"/staff/consents/{consent_id}").text
    assert "All fine." in page and 'name="note"' not in page


# --- the self-signed certificate notice ------------------------------------------------------


def test_every_page_names_the_self_signed_certificate(archive, desk, demo_data):
    certificate = archive.signer().certificate
    consent_id = add_consent(archive, demo_data)
    for url in ("/staff/", f"/staff/consents/{consent_id}", "/staff/patient-session"):
        page = desk.client.get(url).text
        assert "sealed with a certificate this app made itself" in page
        assert certificate.sha256 in page and "SIGNING_P12" in page
    assert "made itself" in desk.client.get("/staff/consents/" + "0" * 32).text


def test_no_notice_with_the_clinics_own_certificate(archive, desk, monkeypatch):
    monkeypatch.setattr(archive, "settings", replace(archive.settings, signing_p12=Path("c.p12")))
    assert "made itself" not in desk.client.get("/staff/").text
