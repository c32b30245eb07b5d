"""Enrolling a tablet in real headless Chromium at tablet size: an admin's page shows the code
and its QR code (an image the page's policy allows, no sideways scroll), and the tablet types
the code on its enrolment page, then opens the patient's form."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.app import app_settings, new_app
from tests.support.browser import LANDSCAPE, PORTRAIT, serving
from tests.support.staff import EMAILS, PASSWORD, make_staff, next_code

SIZES = [PORTRAIT, LANDSCAPE, {"width": 768, "height": 1024}]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    app = new_app(app_settings(tmp_path_factory.mktemp("enrol-e2e"), TESTING=False))
    make_staff(app.extensions["archive"], "admin")
    yield app
    app.extensions["archive"].dispose()


@pytest.fixture(scope="module")
def server(app) -> Iterator[str]:
    with serving(app) as base_url:
        yield base_url


def fits(page: Any, name: str) -> None:
    """At every tablet size, nothing scrolls sideways."""
    size = page.viewport_size
    for viewport in SIZES:
        page.set_viewport_size(viewport)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name} scrolls sideways by {overflow}px at {viewport}"
    page.set_viewport_size(size)


def test_an_admin_shows_a_code_and_qr_and_the_tablet_enrols_with_it(app, server, chromium):
    errors: list[str] = []
    staff = chromium.new_context(viewport=LANDSCAPE, has_touch=True, is_mobile=True)
    tablet = chromium.new_context(viewport=PORTRAIT, has_touch=True, is_mobile=True)
    try:
        page = staff.new_page()
        page.set_default_timeout(10_000)
        page.on("console", lambda m: errors.append(m.text) if "Refused" in m.text else None)
        page.goto(f"{server}/staff/login")
        page.fill("#email", EMAILS["admin"])
        page.fill("#password", PASSWORD)
        page.get_by_role("button", name="Log in").tap()
        # An admin's login asks for the code of their second factor next.
        page.wait_for_selector("#code")
        page.fill("#code", next_code(app.extensions["archive"], EMAILS["admin"]))
        with page.expect_navigation(url="**/staff/"):
            page.get_by_role("button", name="Log in").tap()
        page.get_by_role("link", name="Tablets").tap()
        page.wait_for_url("**/staff/tablets")
        with page.expect_navigation(url="**/staff/tablets/code"):
            page.get_by_role("button", name="Enrol a tablet").tap()
        qr = page.locator("img.enrol-qr")
        assert qr.is_visible()
        assert page.evaluate("document.querySelector('img.enrol-qr').naturalWidth") > 0
        box = qr.bounding_box()
        assert box and box["width"] >= 200 and box["height"] >= 200
        code = page.inner_text(".enrol-code-value code")
        assert len(code) == 9
        fits(page, "the code page")

        pad = tablet.new_page()
        pad.set_default_timeout(10_000)
        pad.goto(f"{server}/tablet/")
        assert "not one of the clinic's tablets" in pad.inner_text("h1")
        pad.get_by_role("link", name=f"{server}/tablet/enrol").tap()
        pad.wait_for_url("**/tablet/enrol")
        fits(pad, "the enrolment page")
        pad.fill("#code", code)
        pad.fill("#name", "Front desk 1")
        with pad.expect_navigation(url="**/tablet/"):
            pad.get_by_role("button", name="Enrol this tablet").tap()
        assert "enrolled as “Front desk 1”" in pad.inner_text("body")
        pad.get_by_role("link").first.tap()
        pad.wait_for_url("**/tablet/form/**")
        assert pad.get_by_role("button", name="Start").is_visible()

        page.goto(f"{server}/staff/tablets")
        assert "Front desk 1" in page.inner_text("table.tablets")
    finally:
        staff.close()
        tablet.close()
    assert not errors, errors  # nothing the page's Content-Security-Policy refused
