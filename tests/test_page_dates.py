"""Dates on the pages in the page's language: a consent's validity and its seal's time, an
injection's refusals and retention's refusal on the staff pages, the signing date on the
tablet, each written as its language writes a day or a moment ("Nov 28, 2027", "28 nov 2027"),
never as the ISO form the archive keeps (which the command line still prints)."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from intake.archive.audit import Actor
from intake.archive.errors import ArchiveError
from intake.archive.injections import LOT_EXPIRED, TOO_SOON, Refusal
from intake.archive.models import Consent
from intake.archive.patients import EXPIRED, WITHDRAWN, Validity
from intake.languages import N_, Said, say_in
from intake.staff.injections import refusal_text
from intake.staff.patients import validity_text
from intake.tablet import service
from tests.support.app import app_settings, new_app
from tests.support.staff import add_consent
from tests.support.tablet import csrf_token

pytestmark = pytest.mark.usefixtures("fast_passwords")


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_a_consents_validity_and_seal_time_in_english_then_spanish(archive, desk, demo_data):
    consent_id = add_consent(archive, demo_data)
    with archive.sessions() as db:
        patient_id = db.get(Consent, consent_id).patient_id
    url = f"/staff/patients/{patient_id}"
    english = text(desk.client.get(url))
    assert ">current until Nov 28, 2027</td>" in english and "2027-11-28" not in english
    sealed = text(desk.client.get(f"/staff/consents/{consent_id}"))
    assert re.search(
        r"<dt>Sealed at</dt><dd>\w{3} \d{1,2}, \d{4}, \d{1,2}:\d\d [AP]M \(UTC\)<", sealed
    )
    desk.post("/staff/me/language", {"lang": "es", "next": url})
    spanish = text(desk.client.get(url))
    assert "Consentimiento vigente hasta el 28 nov 2027" in spanish
    assert ">vigente hasta el 28 nov 2027</td>" in spanish
    assert "2027-11-28" not in spanish
    sealed = text(desk.client.get(f"/staff/consents/{consent_id}"))
    assert re.search(r"<dt>Sellado el</dt><dd>\d{1,2} \w{3} \d{4}, \d\d:\d\d \(UTC\)<", sealed)


def test_a_moment_in_a_message_is_iso_on_the_command_line_and_the_pages_on_a_page():
    at = datetime(2026, 11, 29, 22, 15, 3, tzinfo=UTC)
    stamped = Said(N_("%(when)s by %(authority)s"), when=at, authority="CN=TSA")
    assert str(stamped) == "2026-11-29T22:15:03+00:00 by CN=TSA"
    assert say_in("en", stamped) == "Nov 29, 2026, 10:15 PM (UTC) by CN=TSA"
    assert say_in("es", stamped) == "29 nov 2026, 22:15 (UTC) por CN=TSA"


@pytest.mark.parametrize(
    ("language", "shown"),
    [
        (
            "en",
            [
                "consent of Jan 3, 2024 expired",
                "withdrawn on Nov 30, 2026",
                "This lot expired on Jan 31, 2020.",
                "The last injection was on Nov 2, 2026, 3 days ago",
            ],
        ),
        (
            "es",
            [
                "el consentimiento del 3 ene 2024 venció",
                "revocado el 30 nov 2026",
                "Este lote venció el 31 ene 2020.",
                "La última inyección fue el 2 nov 2026, hace 3 días",
            ],
        ),
    ],
    ids=["en", "es"],
)
def test_why_a_consent_or_an_injection_is_refused_names_its_day_in_the_pages_language(
    tmp_path, language, shown
):
    app = new_app(app_settings(tmp_path, CLINIC_LANGUAGE=language))
    try:
        with app.test_request_context("/"):
            said = [
                validity_text(Validity(EXPIRED, None, "2024-01-03")),
                validity_text(Validity(WITHDRAWN, None, "2026-11-30")),
                refusal_text(Refusal(LOT_EXPIRED, "2020-01-31", "lot_id")),
                refusal_text(Refusal(TOO_SOON, "3|6|2026-11-02", "override_reason")),
            ]
    finally:
        app.extensions["archive"].dispose()
    assert [s[: len(expected)] for s, expected in zip(said, shown, strict=True)] == shown


@pytest.mark.parametrize(
    ("language", "shown"),
    [
        ("en", "Date: <strong>March 9, 2026</strong>"),
        ("es", "Fecha: <strong>9 de marzo de 2026</strong>"),
    ],
    ids=["en", "es"],
)
def test_the_tablets_sign_step_dates_the_signature_in_the_patients_language(
    client, tablet, demo_data, monkeypatch, language, shown
):
    signed = datetime(2026, 3, 9, 9, 30, tzinfo=ZoneInfo("America/Chicago"))
    monkeypatch.setattr(service, "signing_time", lambda timezone="": signed)
    tablet.fill(demo_data, until="sign")
    token = csrf_token(client.get("/tablet/sign").text)
    client.post(
        "/tablet/language", data={"csrf_token": token, "back": "tablet.sign", "lang": language}
    )
    page = client.get("/tablet/sign").text
    assert shown in page and "2026-03-09" not in page


def test_a_consent_still_kept_names_its_day_on_a_spanish_page_and_iso_on_the_command_line(
    archive, admin, demo_data
):
    consent_id = add_consent(archive, demo_data, seal=False)
    with pytest.raises(ArchiveError) as refused:
        archive.delete(consent_id, Actor())
    assert str(refused.value) == "This consent must be kept until 2036-11-29."
    admin.post("/staff/me/language", {"lang": "es", "next": "/staff/"})
    page = text(admin.post(f"/staff/retention/{consent_id}"))
    assert "Este consentimiento debe conservarse hasta el 29 nov 2036." in page
    assert "2036-11-29" not in page
