"""The tablet in the patient's language, through the test client: the pick on the welcome
screen, a switch on any step that keeps what was typed, errors in the language, English again
for the next patient."""

from __future__ import annotations

import json
import re

from tests.support.app import B12
from tests.support.tablet import csrf_token, step_fields


def pick(client, path: str, language: str, fields: dict[str, str] | None = None):
    """Tap a language button on `path`: it sends the page's own form with `lang`."""
    page = client.get(path)
    data = {"csrf_token": csrf_token(page.text), **(fields or {}), "lang": language}
    return client.post(path, data=data)


def test_the_welcome_offers_each_language_named_in_itself(client):
    page = client.get(f"/tablet/form/{B12}").text
    assert '<html lang="en-US">' in page
    assert re.search(r'name="lang" value="en" lang="en" form="start-form"[^>]*>English<', page)
    assert re.search(r'name="lang" value="es" lang="es" form="start-form"[^>]*>Español<', page)
    assert 'aria-pressed="true">English<' in page


def test_picking_spanish_on_the_welcome_speaks_spanish_and_starts_nothing(client):
    response = pick(client, f"/tablet/form/{B12}", "es")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/tablet/form/{B12}"
    page = client.get(f"/tablet/form/{B12}").text
    assert '<html lang="es-US">' in page
    assert "Paso 1 de 6" in page and ">Comenzar<" in page and "Bienvenido/a a " in page
    assert 'aria-pressed="true">Español<' in page
    # Nothing was started: the first step still sends the patient to the start.
    assert client.get("/tablet/details").headers["Location"] == "/tablet/"


def test_a_language_nobody_offers_is_ignored(client):
    pick(client, f"/tablet/form/{B12}", "xx")
    assert "Step 1 of 6" in client.get(f"/tablet/form/{B12}").text


def test_every_step_and_its_errors_in_spanish(client, tablet, demo_data):
    pick(client, f"/tablet/form/{B12}", "es")
    tablet.start()
    page = client.get("/tablet/details").text
    assert "Paso 2 de 6" in page and "<h1>Sus datos</h1>" in page
    assert ">Nombre legal</label>" in page and "Como aparece en su identificación." in page
    fields = step_fields(demo_data)["details"] | {"legal_name": "", "ec_phone": "12"}
    page = tablet.post("/tablet/details", fields)
    assert page.status_code == 422
    assert "Revise estas 2 respuestas" in page.text
    assert "Nombre legal: este dato es obligatorio" in page.text
    assert (
        "Teléfono del contacto de emergencia: no es un número de teléfono (de 7 a 15 dígitos)"
        in page.text
    )
    tablet.post("/tablet/details", step_fields(demo_data)["details"])
    page = client.get("/tablet/health").text
    assert "Paso 3 de 6" in page and "Antes de su inyección" in page
    tablet.post("/tablet/health", step_fields(demo_data)["health"])
    page = client.get("/tablet/consent").text
    assert "Confirme cada afirmación" in page and "Qué hacer:" in page
    page = tablet.post("/tablet/consent", {}).text
    assert "Afirmación 1: debe marcarse para continuar" in page
    tablet.post("/tablet/consent", step_fields(demo_data)["consent"])
    page = client.get("/tablet/sign").text
    assert "Firme aquí" in page and 'data-say-unsigned="Firme en el recuadro."' in page
    assert "Fecha: <strong>" in page
    fields = step_fields(demo_data)["sign"] | {"typed_name": "Otra Persona"}
    page = tablet.post("/tablet/sign", fields).text
    assert "Su nombre escrito: debe coincidir con su nombre legal" in page


def test_switching_on_a_step_keeps_what_was_typed_there(client, tablet, demo_data):
    tablet.start()
    typed = {"legal_name": "Zoë O'Brien", "phone": "+1 555 010 2222", "address": ""}
    response = pick(client, "/tablet/details", "es", typed)
    assert response.status_code == 302 and response.headers["Location"] == "/tablet/details"
    page = client.get("/tablet/details").text.replace("&#39;", "'")
    assert "<h1>Sus datos</h1>" in page
    assert 'value="Zoë O\'Brien"' in page and 'value="+1 555 010 2222"' in page
    # No errors shown for a page the patient has not finished.
    assert 'class="error"' not in page
    response = pick(client, "/tablet/details", "en", typed | {"email": "zoe@example.org"})
    page = client.get("/tablet/details").text
    assert "<h1>Your details</h1>" in page and 'value="zoe@example.org"' in page


def test_switching_from_review_returns_to_review(client, tablet, demo_data):
    tablet.fill(demo_data)
    page = client.get("/tablet/review").text
    token = csrf_token(page)
    assert 'action="/tablet/language"' in page
    response = client.post(
        "/tablet/language", data={"csrf_token": token, "back": "tablet.review", "lang": "es"}
    )
    assert response.headers["Location"] == "/tablet/review"
    page = client.get("/tablet/review").text
    assert "Revisar y enviar" in page
    # The date of birth in words, with the typed date beside it.
    assert "12 de abril de 1985 (1985-04-12)" in page
    response = client.post(
        "/tablet/language", data={"csrf_token": token, "back": "https://evil.example", "lang": "en"}
    )
    assert response.headers["Location"] == "/tablet/"


def test_start_over_gives_the_next_patient_english(client, tablet, demo_data):
    pick(client, f"/tablet/form/{B12}", "es")
    tablet.start()
    tablet.wipe()
    assert "Step 1 of 6" in client.get(f"/tablet/form/{B12}").text


def test_staff_pages_keep_the_clinic_language(client, tablet):
    pick(client, f"/tablet/form/{B12}", "es")
    page = client.get("/staff/login").text
    assert '<html lang="en-US">' in page


def spanish_walk(client, tablet, demo_data):
    """Pick Spanish on the welcome, then fill every step."""
    pick(client, f"/tablet/form/{B12}", "es")
    tablet.fill(demo_data)


def test_a_consent_read_in_spanish_is_signed_and_kept_in_spanish(
    app, client, tablet, demo_data, catalog
):
    spanish_walk(client, tablet, demo_data)
    page = client.get("/tablet/review").text
    assert catalog.get(B12, "es").acknowledgments[0].text in page
    response = tablet.submit()
    assert response.headers["Location"] == "/tablet/done"
    archive = app.extensions["archive"]
    from intake.archive.models import Consent

    with archive.sessions() as session:
        (consent,) = session.query(Consent).all()
    assert consent.language == "es"
    assert consent.form_sha256 == catalog.get(B12, "es").sha256 != catalog.get(B12).sha256
    assert json.loads(consent.submission_json)["language"] == "es"


def test_an_english_consent_names_no_language(app, client, tablet, demo_data):
    tablet.fill(demo_data)
    tablet.submit()
    from intake.archive.models import Consent

    with app.extensions["archive"].sessions() as session:
        (consent,) = session.query(Consent).all()
    assert consent.language == "en"
    assert "language" not in json.loads(consent.submission_json)


def test_a_switch_after_the_consent_asks_for_it_again_in_the_new_language(
    app, client, tablet, demo_data
):
    spanish_walk(client, tablet, demo_data)
    token = csrf_token(client.get("/tablet/review").text)
    client.post(
        "/tablet/language", data={"csrf_token": token, "back": "tablet.review", "lang": "en"}
    )
    page = client.get("/tablet/review").text
    assert 'href="/tablet/consent?from=review">Consent: you answered this step in another' in page
    assert 'name="submit_token"' not in page
    # Submitting anyway (an old page) is refused: nothing is archived.
    response = tablet.post("/tablet/consent?from=review", step_fields(demo_data)["consent"])
    assert response.headers["Location"] == "/tablet/review"
    page = client.get("/tablet/review").text
    assert 'href="/tablet/sign?from=review">Sign: you answered this step in another' in page
    tablet.post("/tablet/sign?from=review", step_fields(demo_data)["sign"])
    assert 'name="submit_token"' in client.get("/tablet/review").text
    tablet.submit()
    from intake.archive.models import Consent

    with app.extensions["archive"].sessions() as session:
        (consent,) = session.query(Consent).all()
    assert consent.language == "en"
