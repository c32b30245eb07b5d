"""Every staff page in Spanish, in real Chromium at tablet size (1024x768 on its side, 768x1024
upright): the page says it is Spanish, has no English left in its main words, does not scroll
sideways, cuts no button or heading, and axe-core finds no WCAG 2.2 AA violation. The clinic's
language is Spanish here, so the login pages are too; the header's language buttons switch a
logged-in account between English and Spanish. A screenshot of each page at each size.

Without Chromium or axe-core the tests skip, except under CI=true, where they fail.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from intake.archive.audit import Actor
from intake.config import PROJECT_ROOT
from intake.languages import translations
from tests.support.app import app_settings, new_app
from tests.support.axe import assert_accessible, axe_source
from tests.support.browser import SCREENSHOTS, serving
from tests.support.course_rows import add_visit
from tests.support.staff import EMAILS, PASSWORD, add_consent, make_staff, next_code, staff_row

pytestmark = pytest.mark.slow
FORM = "b12-methylcobalamin"
DEMO_PATH = PROJECT_ROOT / "intake" / "demo_submission.json"
SIZES = {"landscape": {"width": 1024, "height": 768}, "portrait": {"width": 768, "height": 1024}}
#: English words that would mean a page's own text was not translated (each is translated in
#: the Spanish catalog: patient data, form ids and the clinic's name never contain them here).
ENGLISH = ("Consents", "Log out", "My account", "Signed", "Status", "Search", "Back to the")
#: Buttons, links and headings whose text is wider than their box: cut on screen.
CUT = """() => Array.from(
    document.querySelectorAll('button, a.button, h1, h2, th, .badge, .spot-name'))
  .filter(e => e.offsetParent !== null && e.scrollWidth > e.clientWidth + 1)
  .map(e => e.tagName + ': ' + e.textContent.trim().slice(0, 60))"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any, str]]:
    settings = app_settings(
        tmp_path_factory.mktemp("staff-es"),
        TESTING=False,
        CLINIC_LANGUAGE="es",
        CLINIC_PHONE="+1 555 010 7788",
        CLINIC_ADDRESS="1 Main St, Springfield, IL 62701",
    )
    app = new_app(settings)
    archive = app.extensions["archive"]
    make_staff(archive, "front-desk")
    make_staff(archive, "admin")
    consent_id = add_consent(archive, json.loads(DEMO_PATH.read_text(encoding="utf-8")))
    archive.record("consent viewed", Actor(), consent_id)
    with serving(app) as base_url:
        yield base_url, app, consent_id
    archive.dispose()


def check(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assert page.evaluate("document.documentElement.lang") == "es-US", name
    main = page.inner_text("main") if page.locator("main").count() else page.inner_text("body")
    header = page.inner_text("header") if page.locator("header").count() else ""
    left = [w for w in ENGLISH if w in main or w in header]
    assert left == [], f"{name}: English left {left}"
    for label, size in SIZES.items():
        page.set_viewport_size(size)
        page.screenshot(path=SCREENSHOTS / f"es-{name}-{label}.png", full_page=True)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name} scrolls sideways by {overflow}px ({label})"
        assert page.evaluate(CUT) == [], f"{name} ({label}): cut"
        assert_accessible(page, f"{name} ({label})")


def test_every_staff_page_in_spanish(server, chromium):
    axe_source()
    base, app, consent_id = server
    archive = app.extensions["archive"]
    es = translations("es").gettext
    context = chromium.new_context(viewport=SIZES["landscape"], has_touch=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        page.goto(f"{base}/staff/login")
        check(page, "login")
        page.fill("#email", EMAILS["admin"])
        page.fill("#password", "wrong password")
        page.get_by_role("button", name=es("Log in")).click()
        page.wait_for_selector(".error, .verdict, [role=alert]")
        assert es("That email and password do not match an active account.") in page.inner_text(
            "main"
        )
        check(page, "login-error")
        page.fill("#email", EMAILS["admin"])
        page.fill("#password", PASSWORD)
        page.get_by_role("button", name=es("Log in")).click()
        page.wait_for_selector("#code")
        check(page, "login-code")
        page.fill("#code", next_code(archive, EMAILS["admin"]))
        page.locator("main form button[type=submit]").first.click()
        page.wait_for_url("**/staff/")
        # The header's buttons: English, then back to Spanish, kept on the account.
        page.get_by_role("button", name="English").click()
        page.wait_for_function("document.documentElement.lang === 'en-US'")
        assert page.get_by_role("link", name="Consents").count() == 1
        page.get_by_role("button", name="Español").click()
        page.wait_for_function("document.documentElement.lang === 'es-US'")
        patient_id = archive.get(consent_id).patient_id
        visit_id = add_visit(archive, patient_id, consent_id)
        staff_id = staff_row(archive, EMAILS["front-desk"]).id
        for path, name in [
            ("/staff/", "consents"),
            (f"/staff/consents/{consent_id}", "consent"),
            ("/staff/me", "my-account"),
            ("/staff/me/second-factor", "second-factor"),
            ("/staff/confirm", "reauthenticate"),
            ("/staff/accounts", "accounts"),
            ("/staff/accounts/new", "new-account"),
            (f"/staff/accounts/{staff_id}", "account"),
            ("/staff/audit", "audit"),
            ("/staff/tablets", "tablets"),
            ("/staff/retention", "retention"),
            ("/staff/patient-session", "patient-session"),
            (f"/staff/consents/{consent_id}/void", "void"),
            ("/staff/translations", "translations"),
            ("/staff/today", "today"),
            ("/staff/patients", "patients"),
            (f"/staff/patients/{patient_id}", "patient"),
            (f"/staff/consents/{consent_id}/withdraw", "withdraw"),
            ("/staff/lots", "lots"),
            (f"/staff/visits/{visit_id}/injection", "injection"),
            ("/staff/consents/" + "0" * 32, "not-found"),
        ]:
            page.goto(f"{base}{path}")
            assert page.url.startswith(f"{base}/staff"), path
            check(page, name)
            if name == "injection":
                # The side-effect tiers are the Spanish form's own words.
                spanish = archive.catalog.get(FORM, "es").side_effects[0].heading
                assert spanish in page.inner_text("main")
        page.goto(f"{base}/staff/tablets")
        page.get_by_role("button", name=es("Enrol a tablet")).click()
        page.wait_for_selector(".enrol-qr")
        check(page, "tablet-code")
    finally:
        context.close()
