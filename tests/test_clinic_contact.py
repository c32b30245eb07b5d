"""The severe tier's "call 911" line stands out, the clinic's phone number follows the text that
tells the patient to contact the clinic, and staff are warned while the clinic's phone number or
address is not set."""

from __future__ import annotations

import io
import logging
import re
from typing import Any

import pytest
from pypdf import PdfReader

from intake.pdf.render import RenderSettings, render_consent
from intake.submission import validate_submission
from tests.support.app import B12, app_settings, new_app
from tests.support.staff import StaffActions, make_staff

PHONE = "+1 555 010 7788"
ADDRESS = "1 Main St, Springfield, IL 62701"

pytestmark = pytest.mark.usefixtures("fast_passwords")


@pytest.fixture
def app_config(tmp_path) -> dict[str, Any]:
    return app_settings(tmp_path, CLINIC_PHONE=PHONE, CLINIC_ADDRESS=ADDRESS)


def tier(page: str, name: str) -> str:
    return re.search(rf'<section id="side-effects-{name}".*?</section>', page, re.S).group(0)


def test_the_severe_tier_leads_with_call_911_and_the_mild_tier_gives_the_phone(
    client, tablet, demo_data, definition
):
    tablet.fill(demo_data, until="consent")
    for page in (client.get("/tablet/consent").text, client.get(f"/consent/{B12}").text):
        severe = tier(page, "severe")
        after_heading = severe[severe.index("</h2>") + len("</h2>") :].lstrip()
        assert after_heading.startswith('<p class="tier-headline">Call 911 immediately.</p>')
        mild = tier(page, "mild")
        assert mild.index("What to do:") < mild.index(f'<a href="tel:+15550107788">{PHONE}</a>')
        assert "Call Skin Heaven Medical Spa:" in mild
        assert "tel:" not in tier(page, "serious")


def test_no_phone_line_without_the_setting(tmp_path, demo_data):
    app = new_app(app_settings(tmp_path))
    page = app.test_client().get(f"/consent/{B12}").text
    assert "tel:" not in page and "tier-headline" in page


def sized_lines(pdf: bytes) -> list[tuple[str, float]]:
    """Each piece of text of the PDF with the font size it is drawn at."""
    found: list[tuple[str, float]] = []
    for page in PdfReader(io.BytesIO(pdf)).pages:
        page.extract_text(
            visitor_text=lambda text, cm, tm, font, size: found.append((text.strip(), size))
        )
    return [(text, size) for text, size in found if text]


def test_in_the_pdf_call_911_is_the_largest_line_of_its_section(catalog, definition, demo_data):
    submission = validate_submission(demo_data, catalog)
    pdf = render_consent(
        definition, submission, settings=RenderSettings(clinic_address=ADDRESS, clinic_phone=PHONE)
    )
    lines = sized_lines(pdf)
    texts = [text for text, _ in lines]
    severe = next(i for i, t in enumerate(texts) if t.startswith("Severe reactions"))
    ack = next(i for i, t in enumerate(texts) if t == "Acknowledgments")
    section = lines[severe:ack]
    headline = next(size for text, size in section if text == "Call 911 immediately.")
    assert texts[severe + 1] == "Call 911 immediately."
    assert headline > max(size for text, size in section if text != "Call 911 immediately.")
    words = " ".join(texts)
    assert f"Call Skin Heaven Medical Spa: {PHONE}" in words
    assert (
        words.index("your doctor, or another licensed")
        < words.index(f"Call Skin Heaven Medical Spa: {PHONE}")
        < words.index("More serious side effects")
    )


def test_staff_are_warned_at_start_and_on_every_page_while_a_setting_is_empty(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="intake.clinic"):
        app = new_app(app_settings(tmp_path, CLINIC_ADDRESS=ADDRESS))
    (warning,) = [r for r in caplog.records if r.name == "intake.clinic"]
    assert "CLINIC_PHONE is empty" in warning.getMessage()
    make_staff(app.extensions["archive"], "front-desk")
    client = app.test_client()
    StaffActions(client).login_as("front-desk")
    for path in ("/staff/", "/staff/me"):
        page = client.get(path, follow_redirects=True).text
        assert "The consent cannot give patients the clinic" in page, path
        assert "Set CLINIC_PHONE: they are empty." in page


def test_no_warning_when_both_are_set(app, client, caplog, archive):
    make_staff(archive, "front-desk")
    StaffActions(client).login_as("front-desk")
    assert "The consent cannot give patients" not in client.get("/staff/").text
