"""The staff pages in the staff member's own language: the choice in the header is kept on the
account (audited), every staff page then speaks it, the clinic's language is the default, and
a patient's language pick on the tablet never changes it."""

from __future__ import annotations

import html

import pytest
from babel.dates import format_date

from intake.archive.accounts import Accounts
from intake.archive.audit import Actor
from intake.archive.staff import StaffError
from tests.support.app import app_settings, new_app
from tests.support.staff import EMAILS, add_consent, events, staff_row

pytestmark = pytest.mark.usefixtures("fast_passwords")


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_staff_pages_speak_the_clinics_language_until_one_is_picked(desk, client):
    page = text(client.get("/staff/"))
    assert '<html lang="en-US"' in page
    assert "Start a patient session" in page and "Log out" in page
    assert 'aria-pressed="true">English</button>' in page


def test_the_language_picked_is_kept_on_the_account_and_audited(desk, client, archive):
    response = desk.post("/staff/me/language", {"lang": "es", "next": "/staff/"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/staff/")
    assert staff_row(archive, EMAILS["front-desk"]).language == "es"
    (event,) = events(archive, "staff language changed")
    assert event.target == staff_row(archive, EMAILS["front-desk"]).id
    page = text(client.get("/staff/"))
    assert '<html lang="es-US"' in page
    assert "Iniciar una sesión de paciente" in page and "Cerrar sesión" in page
    assert "Buscar consentimientos" in page and "Start a patient session" not in page
    assert 'aria-pressed="true">Español</button>' in page
    # The role by its Spanish name.
    assert '<span class="role">recepción</span>' in page
    # A form's labels and a flash message speak it too.
    assert "Firmado desde" in page
    # The same pick again is not a change.
    desk.post("/staff/me/language", {"lang": "es", "next": "/staff/"})
    assert len(events(archive, "staff language changed")) == 1


def test_the_language_stays_with_the_account_across_logins(desk, client, archive):
    desk.post("/staff/me/language", {"lang": "es", "next": "/staff/me"})
    desk.post("/staff/logout")
    # Before login nobody is known: the clinic's language.
    assert "Inicio de sesión" not in text(client.get("/staff/login"))
    desk.login_as("front-desk")
    page = text(client.get("/staff/me"))
    assert "Mi cuenta" in page and "Cambiar mi contraseña" in page


def test_a_bad_language_or_a_foreign_next_changes_nothing(desk, client, archive):
    response = desk.post("/staff/me/language", {"lang": "xx", "next": "https://evil.example/"})
    assert response.status_code == 302
    assert "evil.example" not in response.headers["Location"]
    assert staff_row(archive, EMAILS["front-desk"]).language is None
    with pytest.raises(StaffError):
        Accounts(archive).set_language(staff_row(archive, EMAILS["front-desk"]).id, "xx", Actor())
    assert events(archive, "staff language changed") == []


def test_the_language_post_needs_its_csrf_token(desk, client, archive):
    client.post("/staff/me/language", data={"lang": "es", "next": "/staff/me"})
    assert staff_row(archive, EMAILS["front-desk"]).language is None


def test_a_patients_language_pick_does_not_change_the_staff_pages(desk, client, archive):
    with client.session_transaction() as session:
        session["lang"] = "es"
    page = text(client.get("/staff/"))
    assert '<html lang="en-US"' in page and "Start a patient session" in page


def test_the_clinics_language_is_the_default(tmp_path):
    app = new_app(app_settings(tmp_path, CLINIC_LANGUAGE="es"))
    try:
        page = text(app.test_client().get("/staff/login"))
        assert '<html lang="es-US"' in page and "Inicio de sesión del personal" in page
    finally:
        app.extensions["archive"].dispose()


def test_spanish_error_pages_and_flashes(desk, client, archive, demo_data):
    desk.post("/staff/me/language", {"lang": "es", "next": "/staff/"})
    missing = client.get("/staff/consents/" + "0" * 32)
    assert missing.status_code == 404 and "No encontrado" in text(missing)
    forbidden = client.get("/staff/accounts")
    assert forbidden.status_code == 403 and "No corresponde a su rol" in text(forbidden)
    consent_id = add_consent(archive, demo_data)
    page = text(client.get(f"/staff/consents/{consent_id}"))
    assert "PDF firmado" in page and "Nombre legal" in page
    # Days as Spanish writes them ("29 nov 2026"), on the list too.
    signed_on = archive.get(consent_id).signed_on
    spanish_day = format_date(signed_on, "d MMM y", locale="es")
    assert spanish_day in text(client.get("/staff/"))
    assert signed_on.strftime("%b %-d, %Y") not in text(client.get("/staff/"))
    desk.post("/staff/logout")
    assert "Se cerró su sesión." in text(client.get("/staff/login"))
