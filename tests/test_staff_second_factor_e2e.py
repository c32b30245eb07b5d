"""Two-step login set up in real headless Chromium on a tablet in portrait: the QR code shows
(an SVG data URI the page's CSP allows, no inline script or style), the secret can be typed by
hand, a code from the app switches it on, the ten recovery codes show, and the next login asks
for a code. Without Chromium the test skips, except under CI=true, where it fails."""

from __future__ import annotations

from collections.abc import Iterator

import pyotp
import pytest

from tests.support.app import app_settings, new_app
from tests.support.browser import PORTRAIT, SCREENSHOTS, serving
from tests.support.staff import EMAILS, PASSWORD, make_staff, previous_step_code


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, object]]:
    app = new_app(app_settings(tmp_path_factory.mktemp("second-factor-e2e"), TESTING=False))
    archive = app.extensions["archive"]
    make_staff(archive, "clinician")
    with serving(app) as base_url:
        yield base_url, archive
    archive.dispose()


def log_in(page, base: str) -> None:
    page.goto(f"{base}/staff/login")
    page.fill("#email", EMAILS["clinician"])
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Log in").tap()


def test_a_clinician_sets_up_two_step_login_on_a_tablet(server, chromium):
    base, archive = server
    context = chromium.new_context(viewport=PORTRAIT, has_touch=True, is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text))
    try:
        log_in(page, base)
        page.wait_for_url("**/staff/")
        page.get_by_role("link", name="My account").tap()
        page.wait_for_url("**/staff/me")
        page.get_by_role("link", name="Set up two-step login").tap()
        page.wait_for_url("**/staff/me/second-factor")
        qr = page.locator("#second-factor-qr")
        assert qr.is_visible()
        assert page.evaluate("document.getElementById('second-factor-qr').naturalWidth") > 0
        box = qr.bounding_box()
        assert box["width"] >= 200 and box["x"] + box["width"] <= PORTRAIT["width"]
        secret = page.inner_text("#second-factor-secret").replace(" ", "")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page scrolls sideways by {overflow}px"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / "staff-second-factor-portrait.png", full_page=True)

        totp = pyotp.TOTP(secret)
        page.fill("#code", previous_step_code(archive, totp))
        page.get_by_role("button", name="Switch two-step login on").tap()
        page.wait_for_selector("ul.recovery-codes")
        assert page.locator("ul.recovery-codes li").count() == 10

        page.get_by_role("button", name="Log out").tap()
        page.wait_for_url("**/staff/login")
        log_in(page, base)
        page.wait_for_selector("#code")
        assert "Staff login: code" in page.inner_text("h1")
        page.fill("#code", totp.at(archive.clock()))
        page.get_by_role("button", name="Log in").tap()
        page.wait_for_url("**/staff/")
        assert not [text for text in refused if "Content Security Policy" in text], refused
    finally:
        context.close()
