"""Accessibility in real Chromium: axe-core finds no WCAG 2.2 AA violation on any tablet step (in
English and Spanish, with errors shown and with the dialog open) or staff page; the whole tablet
flow can be done with the keyboard alone; and what patients tripped over in the browser: Return
moves on, the pad draws the review's and the PDF's curve, 44 px targets, the date of birth
checked as it is left, larger text and 200 % zoom without sideways scrolling.

Without Chromium or axe-core the tests skip, except under CI=true, where they fail.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from intake.archive.audit import Actor
from intake.archive.tablets import Tablets
from intake.archive.visits import Visits
from intake.archive.withdrawal_tablet import TabletWithdrawals
from intake.archive.withdrawals import WithdrawalRequest
from intake.pdf.signature import catmull_rom
from intake.tablet.devices import COOKIE
from tests.support.app import B12, DEMO_PATH, app_settings, new_app
from tests.support.axe import assert_accessible, axe_source, violations
from tests.support.browser import LANDSCAPE, PORTRAIT, SCREENSHOTS, serving
from tests.support.course_rows import add_visit
from tests.support.devices import enrol
from tests.support.staff import EMAILS, PASSWORD, add_consent, make_staff, next_code
from tests.test_tablet_e2e import draw

#: 200 % browser zoom on a tablet held upright: half its width in CSS pixels.
ZOOMED = {"width": PORTRAIT["width"] // 2, "height": PORTRAIT["height"] // 2}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any, str]]:
    """The app on loopback with a front-desk account (the witness), an admin, and one sealed
    consent. Made before `chromium`: sealing runs asyncio, which Playwright's loop would be in
    the way of in this thread."""
    settings = app_settings(
        tmp_path_factory.mktemp("a11y"),
        TESTING=False,
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


@pytest.fixture
def tablet(server: tuple[str, Any, str], chromium: Any) -> Iterator[Any]:
    axe_source()
    base_url, app, _ = server
    context = chromium.new_context(viewport=PORTRAIT, has_touch=True, is_mobile=True)
    token = enrol(app.extensions["archive"])
    context.add_cookies([{"name": COOKIE, "value": token, "url": base_url, "httpOnly": True}])
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture
def demo() -> dict[str, Any]:
    return json.loads(DEMO_PATH.read_text(encoding="utf-8"))


def check(page: Any, name: str) -> None:
    """axe at tablet size, upright and on its side; no sideways scroll there nor at 200 %
    zoom; and a screenshot of each."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for label, size in (("portrait", PORTRAIT), ("landscape", LANDSCAPE), ("zoom200", ZOOMED)):
        page.set_viewport_size(size)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name} scrolls sideways by {overflow}px ({label})"
        if label != "zoom200":
            assert_accessible(page, f"{name} ({label})")
        page.screenshot(path=SCREENSHOTS / f"a11y-{name}-{label}.png")
    page.set_viewport_size(PORTRAIT)


def tap(page: Any, name: str) -> None:
    page.get_by_role("button", name=name, exact=True).first.click()


def arrive(page: Any, step: str) -> None:
    page.wait_for_url(re.compile(rf"/tablet/{step}(\?.*)?$"))


def small_targets(page: Any, selector: str) -> list[str]:
    """The elements of `selector` less than 44 px tall (WCAG 2.5.5's size, Apple's minimum)."""
    return page.evaluate(
        """s => Array.from(document.querySelectorAll(s))
             .filter(e => e.getBoundingClientRect().height < 44)
             .map(e => e.textContent.trim() + ' ' + e.getBoundingClientRect().height)""",
        selector,
    )


def fill_details(page: Any, demo: dict[str, Any]) -> None:
    p = demo["patient"]
    for key in ("legal_name", "preferred_name", "phone", "email", "address", "primary_physician"):
        page.fill(f"#{key}", p[key])
    page.fill("#date_of_birth", "04/12/1985")
    page.fill("#ec_name", p["emergency_contact"]["name"])
    page.fill("#ec_phone", p["emergency_contact"]["phone"])
    page.fill("#ec_relationship", p["emergency_contact"]["relationship"])


def test_every_tablet_step_is_accessible_and_holds_its_layout(tablet, server, demo, definition):
    page = tablet
    base, _, _ = server
    page.goto(f"{base}/tablet/")
    check(page, "index")
    assert small_targets(page, ".form-list a") == []
    page.goto(f"{base}/tablet/form/{B12}")
    check(page, "welcome")
    assert page.locator(".aside a").inner_text() == "Choose another form"
    assert small_targets(page, ".aside a, .start-over .link-button, .text-size-button") == []
    tap(page, "Español")
    page.wait_for_selector("html[lang^=es]")
    check(page, "welcome-es")
    tap(page, "English")
    page.wait_for_selector("html[lang^=en]")
    tap(page, "Start")

    arrive(page, "details")
    check(page, "details")
    tap(page, "Español")
    page.wait_for_selector("html[lang^=es]")
    check(page, "details-es")
    tap(page, "Continuar")
    page.wait_for_selector("#error-summary h2")
    check(page, "details-errors-es")
    tap(page, "English")
    page.wait_for_selector("html[lang^=en]")
    tap(page, "Continue")
    page.wait_for_selector("#error-summary h2")
    check(page, "details-errors")
    assert small_targets(page, "#error-summary li a") == []
    # Return moves to the next field and sends nothing.
    page.fill("#legal_name", demo["patient"]["legal_name"])
    page.focus("#legal_name")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "preferred_name"
    assert page.locator("#error-summary h2").count() == 1, "Return sent the step"
    # A date of birth in the future is refused as the field is left.
    page.fill("#date_of_birth", "01/01/2099")
    page.keyboard.press("Tab")
    live = page.locator("#date_of_birth-live")
    assert live.is_visible() and live.inner_text() == "A date of birth cannot be in the future."
    assert page.get_attribute("#date_of_birth", "aria-invalid") == "true"
    check(page, "details-future-date")
    fill_details(page, demo)
    page.keyboard.press("Tab")
    assert not live.is_visible()
    # Larger text: at once, kept for the session, and the page still fits.
    tap(page, "Larger text")
    page.wait_for_function("document.documentElement.classList.contains('text-large')")
    assert page.get_attribute(".text-size-button", "aria-pressed") == "true"
    assert page.input_value("#legal_name") == demo["patient"]["legal_name"]
    check(page, "details-larger-text")
    tap(page, "Continue")

    arrive(page, "health")
    assert page.evaluate("getComputedStyle(document.documentElement).fontSize") == "24px"
    check(page, "health-larger-text")
    tap(page, "Larger text")
    page.wait_for_function("!document.documentElement.classList.contains('text-large')")
    tap(page, "Continue")
    page.wait_for_selector("#error-summary h2")
    check(page, "health-errors")
    for key in ("allergies", "medications", "conditions"):
        page.fill(f"#{key}", demo["health"][key])
    for n, q in enumerate(definition.screening):
        page.check(f"#q_{q.id}-{2 if n == 5 else 0 if demo['screening'][q.id] else 1}")
    tap(page, "Continue")

    arrive(page, "consent")
    severe = page.locator("#side-effects-severe")
    sizes = severe.evaluate(
        "s => Array.from(s.querySelectorAll('h2, p, li')).map(e => "
        "[e.className, parseFloat(getComputedStyle(e).fontSize)])"
    )
    headline = next(size for cls, size in sizes if cls == "tier-headline")
    assert headline > max(size for cls, size in sizes if cls != "tier-headline")
    check(page, "consent")
    tap(page, "Continue to sign")
    page.wait_for_selector("#error-summary h2")
    check(page, "consent-errors")
    for ack in definition.acknowledgments:
        page.check(f"#a_{ack.id}")
    tap(page, "Continue to sign")

    arrive(page, "sign")
    check(page, "sign")
    tap(page, "Continue to review")
    page.wait_for_selector("#error-summary h2")
    check(page, "sign-errors")
    # The pad draws the same Catmull-Rom curve as the review's SVG and the PDF.
    points = [[10, 10], [40, 60], [90, 20], [140, 80], [200, 30]]
    in_page = page.evaluate("p => window.signatureCurve(p)", points)
    expected = [[*c1, *c2, *end] for c1, c2, end in catmull_rom([tuple(p) for p in points])]
    assert [v for c in in_page for v in c] == pytest.approx([v for c in expected for v in c])
    draw(page, "#signature-pad")
    page.fill("#typed_name", "Zoë O\u2019Brien")
    tap(page, "Continue to review")

    arrive(page, "review")
    check(page, "review")
    assert "Not sure" in page.inner_text("main")
    page.evaluate("document.getElementById('idle-dialog').showModal()")
    assert_accessible(page, "review with the idle dialog open")
    page.screenshot(path=SCREENSHOTS / "a11y-review-dialog-portrait.png")
    page.keyboard.press("Escape")
    tap(page, "Submit")

    arrive(page, "done")
    check(page, "done")
    page.goto(f"{base}/copy/{'A' * 43}")
    check(page, "copy-expired")


def test_axe_finds_what_it_is_asked_to_find(tablet, server):
    """The check itself: a picture without a text alternative and a field without a label are
    found on an otherwise clean page."""
    base, _, _ = server
    tablet.goto(f"{base}/tablet/")
    assert_accessible(tablet, "index")
    tablet.evaluate(
        "() => { document.querySelector('main').insertAdjacentHTML('beforeend', "
        '\'<img src="/favicon.ico"><input type="text">\') }'
    )
    found = {v["id"] for v in violations(tablet)}
    assert {"image-alt", "label"} <= found


def test_the_whole_flow_with_the_keyboard_alone(tablet, server, demo, definition):
    """Tab, Shift+Tab, arrows, Space and Enter only; the signature by typed name, which a staff
    member confirms with their login (the pad needs a finger)."""
    page = tablet
    base, app, _ = server
    keys = page.keyboard

    def tab_until(test: str, arg: str, what: str, limit: int = 80) -> None:
        for _ in range(limit):
            keys.press("Tab")
            if page.evaluate(f"a => {{ const e = document.activeElement; return {test} }}", arg):
                visible = page.evaluate(
                    "() => { const r = document.activeElement.getBoundingClientRect(); "
                    "return r.width > 0 && r.height > 0 }"
                )
                assert visible, f"{what} has focus but cannot be seen"
                return
        raise AssertionError(f"Tab never reached {what}")

    def tab_to(selector: str) -> None:
        tab_until("e.matches(a)", selector, selector)

    def type_into(selector: str, text: str) -> None:
        tab_to(selector)
        keys.type(text)

    def press(name: str) -> None:
        tab_until("e.tagName === 'BUTTON' && e.textContent.trim() === a", name, name)
        keys.press("Enter")

    page.goto(f"{base}/tablet/form/{B12}")
    press("Start")
    arrive(page, "details")
    p, ec = demo["patient"], demo["patient"]["emergency_contact"]
    type_into("#legal_name", p["legal_name"])
    type_into("#date_of_birth", "04/12/1985")
    type_into("#phone", p["phone"])
    type_into("#address", p["address"])
    type_into("#ec_name", ec["name"])
    type_into("#ec_phone", ec["phone"])
    type_into("#ec_relationship", ec["relationship"])
    press("Continue")

    arrive(page, "health")
    for key in ("allergies", "medications", "conditions"):
        type_into(f"#{key}", "none")
    for q in definition.screening:
        # The group's first radio takes the focus; an arrow moves to "No" and picks it.
        tab_to(f"#q_{q.id}-0")
        keys.press("ArrowRight")
        assert page.is_checked(f"#q_{q.id}-1"), q.id
    press("Continue")

    arrive(page, "consent")
    for ack in definition.acknowledgments:
        tab_to(f"#a_{ack.id}")
        keys.press("Space")
    press("Continue to sign")

    arrive(page, "sign")
    press("I can't sign with my finger")
    arrive(page, "sign/typed")
    check(page, "sign-typed")
    type_into("#typed_name", p["legal_name"])
    tab_to("#adopt")
    keys.press("Space")
    type_into("#witness_email", EMAILS["front-desk"])
    type_into("#witness_password", "not the password")
    press("Continue to review")
    page.wait_for_selector("#error-summary h2")
    assert "do not match" in page.inner_text("#error-summary")
    check(page, "sign-typed-errors")
    type_into("#witness_password", PASSWORD)
    press("Continue to review")

    arrive(page, "review")
    assert "Signed by typed name, witnessed by Frank Desk" in page.inner_text("main")
    press("Submit")
    arrive(page, "done")
    assert "Thank you" in page.inner_text("h1")


def test_staff_pages_are_accessible(server, chromium):
    axe_source()
    base, app, consent_id = server
    context = chromium.new_context(viewport=LANDSCAPE, has_touch=True, is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        page.goto(f"{base}/staff/login")
        check(page, "staff-login")
        page.fill("#email", EMAILS["admin"])
        page.fill("#password", "wrong password")
        page.get_by_role("button", name="Log in").click()
        page.wait_for_selector(".error, .verdict, [role=alert]")
        check(page, "staff-login-error")
        page.fill("#email", EMAILS["admin"])
        page.fill("#password", PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_selector("#code")
        check(page, "staff-login-code")
        page.fill("#code", next_code(app.extensions["archive"], EMAILS["admin"]))
        page.locator("main form button[type=submit]").first.click()
        page.wait_for_url("**/staff/")
        archive = app.extensions["archive"]
        patient_id = archive.get(consent_id).patient_id
        visit_id = add_visit(archive, patient_id, consent_id)
        for path, name in [
            ("/staff/", "staff-consents"),
            (f"/staff/consents/{consent_id}", "staff-consent"),
            ("/staff/me", "staff-my-account"),
            ("/staff/accounts", "staff-accounts"),
            ("/staff/audit", "staff-audit"),
            ("/staff/tablets", "staff-tablets"),
            ("/staff/retention", "staff-retention"),
            ("/staff/translations", "staff-translations"),
            ("/staff/today", "staff-today"),
            ("/staff/patients", "staff-patients"),
            (f"/staff/patients/{patient_id}", "staff-patient"),
            (f"/staff/patients/{patient_id}/merge", "staff-patient-merge"),
            (f"/staff/consents/{consent_id}/withdraw", "staff-withdraw"),
            ("/staff/lots", "staff-lots"),
            (f"/staff/visits/{visit_id}/injection", "staff-injection"),
        ]:
            page.goto(f"{base}{path}")
            assert page.url.startswith(f"{base}/staff"), path
            check(page, name)
    finally:
        context.close()


def test_the_visit_check_in_is_accessible_in_both_languages(server, chromium):
    """The returning patient's check-in, as staff sent it to an enrolled tablet: as it opens,
    with every error shown, in English and in Spanish."""
    axe_source()
    base, app, consent_id = server
    archive = app.extensions["archive"]
    enrolled = Tablets(archive).enrol_directly("Check-in tablet", Actor(), enrolled_by=None)
    patient_id = archive.get(consent_id).patient_id
    Visits(archive).start(patient_id, enrolled.tablet.id, Actor(), today=date.today())
    context = chromium.new_context(viewport=PORTRAIT, has_touch=True, is_mobile=True)
    context.add_cookies([{"name": COOKIE, "value": enrolled.token, "url": base, "httpOnly": True}])
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        page.goto(f"{base}/tablet/")
        page.wait_for_url(re.compile(r"/tablet/visit$"))
        check(page, "checkin")
        tap(page, "Confirm and check in")
        page.wait_for_selector("#error-summary h2")
        check(page, "checkin-errors")
        tap(page, "Español")
        page.wait_for_selector("html[lang^=es]")
        check(page, "checkin-es")
    finally:
        context.close()


def test_the_withdrawal_on_the_tablet_is_accessible_in_both_languages(server, chromium):
    """The withdrawal staff sent to an enrolled tablet: as it opens, with its error shown, in
    English and in Spanish."""
    axe_source()
    base, app, consent_id = server
    archive = app.extensions["archive"]
    enrolled = Tablets(archive).enrol_directly("Withdrawal tablet", Actor(), enrolled_by=None)
    clinician = make_staff(archive, "clinician", email="withdraw-a11y@example.org")
    request = WithdrawalRequest(date.today(), "Stopping the treatment")
    handoff = TabletWithdrawals(archive).start(
        consent_id, request, enrolled.tablet.id, Actor(staff_id=clinician.id)
    )
    context = chromium.new_context(viewport=PORTRAIT, has_touch=True, is_mobile=True)
    context.add_cookies([{"name": COOKIE, "value": enrolled.token, "url": base, "httpOnly": True}])
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        page.goto(f"{base}/tablet/")
        page.wait_for_url(re.compile(r"/tablet/withdrawal$"))
        check(page, "withdrawal")
        tap(page, "Confirm the withdrawal")
        page.wait_for_selector("#error-summary h2")
        check(page, "withdrawal-errors")
        tap(page, "Español")
        page.wait_for_selector("html[lang^=es]")
        assert "Con mi firma retiro mi consentimiento" in page.inner_text("main")
        check(page, "withdrawal-es")
    finally:
        context.close()
        TabletWithdrawals(archive).cancel(handoff.id, Actor())
