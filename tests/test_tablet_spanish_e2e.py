"""The whole tablet flow in Spanish, in real headless Chromium with touch input: the patient picks
Español on the welcome screen, switches language on a step without losing what was typed, reads
and signs the Spanish consent; the archived, sealed PDF is read back with pypdf and carries the
Spanish text. Screenshots (portrait and landscape) go to `test-artifacts/screenshots/es-*`.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from pypdf import PdfReader

from intake.archive.models import Consent
from intake.tablet.devices import COOKIE
from tests.support.app import B12, app_settings, new_app
from tests.support.browser import PORTRAIT, serving
from tests.support.devices import enrol
from tests.test_tablet_e2e import arrive, draw, shoot, strokes_in, tap


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    app = new_app(app_settings(tmp_path_factory.mktemp("e2e-es"), TESTING=False))
    with serving(app) as base_url:
        yield base_url, app


@pytest.fixture
def tablet_page(chromium: Any, server: tuple[str, Any]) -> Iterator[Any]:
    """An enrolled tablet: 820 x 1180, touch screen, mobile viewport rules."""
    base_url, app = server
    context = chromium.new_context(viewport=PORTRAIT, has_touch=True, is_mobile=True)
    device = enrol(app.extensions["archive"])
    context.add_cookies([{"name": COOKIE, "value": device, "url": base_url, "httpOnly": True}])
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def words(text: str) -> str:
    return " ".join(text.replace("’", "'").split())


def test_a_patient_reads_and_signs_in_spanish(tablet_page, server, demo_data, catalog):
    page = tablet_page
    base, app = server
    es = catalog.get(B12, "es")
    p = demo_data["patient"]

    page.goto(f"{base}/tablet/form/{B12}")
    assert page.locator("html").get_attribute("lang") == "en-US"
    tap(page, "Español")
    page.wait_for_selector("html[lang=es-US]")
    main = page.inner_text("main")
    assert "Paso 1 de 6" in main and es.title in main and "Bienvenido/a a" in main
    shoot(page, "es-1-welcome")
    tap(page, "Comenzar")

    arrive(page, "details")
    tap(page, "Continuar")
    page.wait_for_selector("#error-summary h2")
    summary = page.inner_text("#error-summary")
    assert "Nombre legal: este dato es obligatorio" in summary
    shoot(page, "es-2-details-errors")
    # A switch of language on a step keeps what was typed there.
    page.fill("#legal_name", p["legal_name"])
    page.fill("#phone", p["phone"])
    tap(page, "English")
    page.wait_for_selector("html[lang=en-US]")
    assert page.input_value("#legal_name") == p["legal_name"]
    assert page.input_value("#phone") == p["phone"]
    assert "Your details" in page.inner_text("h1")
    tap(page, "Español")
    page.wait_for_selector("html[lang=es-US]")
    assert page.input_value("#legal_name") == p["legal_name"]
    for key in ("preferred_name", "date_of_birth", "email", "address", "primary_physician"):
        page.fill(f"#{key}", p[key])
    ec = p["emergency_contact"]
    page.fill("#ec_name", ec["name"])
    page.fill("#ec_phone", ec["phone"])
    page.fill("#ec_relationship", ec["relationship"])
    tap(page, "Continuar")

    arrive(page, "health")
    main = page.inner_text("main")
    for question in es.screening:
        assert words(question.question) in words(main)
    for key in ("allergies", "medications", "conditions"):
        page.fill(f"#{key}", demo_data["health"][key])
    for question in es.screening:
        page.check(f"#q_{question.id}-{0 if demo_data['screening'][question.id] else 1}")
    shoot(page, "es-3-health")
    tap(page, "Continuar")

    arrive(page, "consent")
    main = words(page.inner_text("main"))
    for phrase in ("Aumenta la energía", "llame al 911 de inmediato", "Qué hacer:"):
        assert phrase in main
    for ack in es.acknowledgments:
        page.check(f"#a_{ack.id}")
    page.evaluate("window.scrollTo(0, 0)")
    shoot(page, "es-4-consent")
    tap(page, "Continuar a la firma")

    arrive(page, "sign")
    assert words(es.signature.meaning) in words(page.inner_text("main"))
    tap(page, "Continuar a la revisión")
    assert page.locator("#signature-message").inner_text() == "Firme en el recuadro."
    draw(page, "#signature-pad")
    assert len(strokes_in(page, "signature")) == 2
    page.fill("#typed_name", p["legal_name"])
    page.evaluate("window.scrollTo(0, 0)")
    shoot(page, "es-5-sign")
    tap(page, "Continuar a la revisión")

    arrive(page, "review")
    main = page.inner_text("main")
    assert "12 de abril de 1985 (1985-04-12)" in main and "Revisar y enviar" in main
    shoot(page, "es-6-review")
    tap(page, "Enviar")

    arrive(page, "done")
    assert "Gracias" in page.inner_text("h1")
    assert "Devuelva la tableta en la recepción." in page.inner_text("main")

    archive = app.extensions["archive"]
    with archive.sessions() as session:
        consents = session.query(Consent).order_by(Consent.created_at).all()
    consent = consents[-1]
    assert (consent.language, consent.form_sha256) == ("es", es.sha256)
    pdf = archive.pdf(consent.id)
    reader = PdfReader(io.BytesIO(pdf))
    assert reader.trailer["/Root"]["/Lang"] == "es-US"
    text = words(" ".join(page.extract_text() for page in reader.pages))
    for phrase in (
        # The seed's benefits, tiers and schedule as the patient read them.
        "Aumenta la energía",
        "Refuerza el sistema inmunitario",
        "Mejora el estado de ánimo y la agudeza mental",
        "Efectos secundarios más graves",
        "Es una emergencia: llame al 911 de inmediato",
        "una vez por semana durante 4 semanas y luego una vez al mes",
        "No contiene cianuro",
        # The PDF's own labels, the date of birth in words, the signing record.
        "Datos del paciente",
        "Fecha de nacimiento 12 de abril de 1985 (1985-04-12)",
        "Registro de la firma",
        "Idioma Español (es-US)",
        f"SHA-256 del texto {es.sha256}",
        "Sellado con",
    ):
        assert phrase in text, phrase
    assert re.search(r"Página 1 de \d+", text)
    # pyHanko's validator runs its own event loop: beside Playwright's, in a thread of its own.
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(archive.check, pdf).result().holds
