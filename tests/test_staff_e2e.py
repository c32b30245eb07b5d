"""The staff pages in real headless Chromium on a tablet: log in by touch, the consent list in
landscape, a consent in portrait; no page scrolls sideways. Screenshots go to
`test-artifacts/screenshots/` (the README's two were copied from there to `docs/screenshots/`).
Without Chromium the test skips, except under CI=true, where it fails.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from intake.archive.audit import Actor
from tests.support.app import DEMO_PATH, app_settings, new_app
from tests.support.browser import LANDSCAPE, PORTRAIT, SCREENSHOTS, serving
from tests.support.staff import EMAILS, PASSWORD, add_consent, make_staff, patient

#: Widths at which no staff page may scroll sideways: an iPad's portrait and landscape, and a
#: small tablet.
WIDTHS = [768, 820, 1180]
PATIENTS = [
    ("Ana García", "1972-07-30", "2026-10-15T16:45:00-05:00", False),
    ("Liam Smith", "1990-01-02", "2026-11-01T09:00:00-06:00", False),
    ("Mohammed Al-Sayed", "1968-02-29", "2026-11-12T11:20:00-06:00", True),
    ("Chen Wei", "2001-09-17", "2026-11-20T14:05:00-06:00", False),
    ("Zoë O'Brien", "1985-04-12", "2026-11-29T10:15:00-05:00", True),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """The app on a free port, with a clinician and five sealed consents (one reviewed).

    Requested before `chromium`: sealing runs asyncio, which Playwright's loop would be in the
    way of in this thread.
    """
    app = new_app(app_settings(tmp_path_factory.mktemp("staff-e2e"), TESTING=False))
    demo_data = json.loads(DEMO_PATH.read_text(encoding="utf-8"))
    archive = app.extensions["archive"]
    clinician = make_staff(archive, "clinician")
    ids = {}
    for name, born, signed_at, flagged in PATIENTS:
        data = patient(demo_data, name, born=born, signed_at=signed_at, flagged=flagged)
        ids[name] = add_consent(archive, data)
    archive.review(ids["Mohammed Al-Sayed"], clinician, "Discussed; cleared to inject.", Actor())
    with serving(app) as base_url:
        yield base_url, ids
    archive.dispose()


def no_sideways_scroll(page: Any, name: str) -> None:
    size = page.viewport_size
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 1024})
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name} scrolls sideways by {overflow}px at {width} wide"
    page.set_viewport_size(size)


def test_a_clinician_finds_and_opens_a_consent_on_a_tablet(server, chromium):
    base, ids = server
    started = time.monotonic()
    context = chromium.new_context(viewport=LANDSCAPE, has_touch=True, is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        page.goto(f"{base}/staff/")
        page.wait_for_url("**/staff/login")
        no_sideways_scroll(page, "login")
        page.fill("#email", EMAILS["clinician"])
        page.fill("#password", PASSWORD)
        with page.expect_navigation(url="**/staff/"):
            page.get_by_role("button", name="Log in").tap()

        names = page.locator("table.consents tbody th.name").all_inner_texts()
        assert names == [name for name, *_ in reversed(PATIENTS)]
        assert page.locator(".badge.warn").count() == 1, "Zoë's flags wait for review"
        no_sideways_scroll(page, "consents")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / "staff-consents-landscape.png")

        page.fill("#name", "zoe obrien")
        with page.expect_navigation(url="**/staff/"):
            page.get_by_role("button", name="Search").tap()
        assert page.locator("table.consents tbody th.name").all_inner_texts() == ["Zoë O'Brien"]

        page.set_viewport_size(PORTRAIT)
        page.get_by_role("link", name="Zoë O'Brien").tap()
        page.wait_for_url(f"**/staff/consents/{ids[PATIENTS[-1][0]]}")
        assert "Sealed by the clinic, unchanged since" in page.inner_text(".verdict")
        assert page.locator(".screening li.flagged").count() == 2
        no_sideways_scroll(page, "consent")
        page.screenshot(path=SCREENSHOTS / "staff-consent-portrait.png")
        assert "zoe" not in page.url.lower()
    finally:
        context.close()
    assert time.monotonic() - started < 15
