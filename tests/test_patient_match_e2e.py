"""The match confirmation in real headless Chromium on a tablet: a clinician opens a patient,
sees the two records side by side, confirms they are one person, and lands on the kept record;
the merged record's address says where it went; then the clinician sends a withdrawal to the
front-desk tablet and the patient signs it there with a finger.
No page scrolls sideways. Without Chromium the
test skips, except under CI=true, where it fails."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from intake.tablet.devices import COOKIE
from tests.support.app import DEMO_PATH, app_settings, new_app
from tests.support.browser import PORTRAIT, SCREENSHOTS, serving
from tests.support.devices import enrol
from tests.support.staff import EMAILS, PASSWORD, add_consent, make_staff, patient
from tests.test_tablet_e2e import draw


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """The app with a clinician and two consents of Ana García, a month apart (two records)."""
    app = new_app(app_settings(tmp_path_factory.mktemp("match-e2e"), TESTING=False))
    demo_data = json.loads(DEMO_PATH.read_text(encoding="utf-8"))
    archive = app.extensions["archive"]
    make_staff(archive, "clinician")
    ids = {}
    for key, name, signed_at in (
        ("older", "Ana García", "2026-10-15T16:45:00-05:00"),
        ("newer", "Ana Garcia", "2026-11-20T10:00:00-06:00"),
    ):
        data = patient(demo_data, name, born="1972-07-30", signed_at=signed_at, flagged=False)
        ids[key] = archive.get(add_consent(archive, data)).patient_id
    ids["tablet_token"] = enrol(archive, "Front desk 1")
    with serving(app) as base_url:
        yield base_url, ids
    archive.dispose()


def test_a_clinician_confirms_a_possible_match_on_a_tablet(server, chromium):
    base, ids = server
    context = chromium.new_context(viewport=PORTRAIT, has_touch=True, is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        page.goto(f"{base}/staff/login")
        page.fill("#email", EMAILS["clinician"])
        page.fill("#password", PASSWORD)
        with page.expect_navigation(url="**/staff/"):
            page.get_by_role("button", name="Log in").tap()
        page.get_by_role("link", name="Patients").tap()
        page.wait_for_url("**/staff/patients")
        page.fill("#name", "garcia")
        with page.expect_navigation(url="**/staff/patients"):
            page.get_by_role("button", name="Search").tap()
        assert "garcia" not in page.url.lower()
        rows = page.locator("table.patients tbody th.name")
        assert rows.count() == 2
        with page.expect_navigation(url=f"**/staff/patients/{ids['newer']}"):
            page.get_by_role("link", name="Ana Garcia", exact=True).tap()
        box = page.locator("section.possible-matches")
        assert box.is_visible()
        side = box.locator("table.side-by-side")
        assert side.locator("tr", has_text="Legal name").inner_text().split("\t")[1:] == [
            "Ana Garcia",
            "Ana García",
        ]
        assert side.locator("tr", has_text="Date of birth").inner_text().count("Jul 30, 1972") == 2
        assert "Same name and date of birth." in box.inner_text()
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the patient page scrolls sideways by {overflow}px"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(
            path=str(SCREENSHOTS / "patient-possible-match-portrait.png"), full_page=True
        )
        with page.expect_navigation(url=f"**/staff/patients/{ids['older']}"):
            page.get_by_role("button", name="The same person: merge the two").tap()
        assert "The two records are one now" in page.locator("p.notice").inner_text()
        assert page.locator("section.possible-matches").count() == 0
        assert page.locator("ul.merged-here li").count() == 1
        assert page.locator("table.patient-consents tbody tr").count() == 2, "both consents"
        page.goto(f"{base}/staff/patients/{ids['newer']}")
        assert "This record was merged into another" in page.locator(".merged-notice").inner_text()
        with page.expect_navigation(url=f"**/staff/patients/{ids['older']}"):
            page.get_by_role("link", name="Open that record").tap()
    finally:
        context.close()


def test_a_patient_signs_a_withdrawal_on_the_tablet_the_clinician_chose(server, chromium):
    """After the merge above, the kept record's current consent is withdrawn: the clinician
    sends it to the front-desk tablet, and the patient signs there with a finger."""
    base, ids = server
    context = chromium.new_context(viewport=PORTRAIT, has_touch=True, is_mobile=True)
    tablet = chromium.new_context(viewport=PORTRAIT, has_touch=True, is_mobile=True)
    tablet.add_cookies(
        [{"name": COOKIE, "value": ids["tablet_token"], "url": base, "httpOnly": True}]
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        page.goto(f"{base}/staff/login")
        page.fill("#email", EMAILS["clinician"])
        page.fill("#password", PASSWORD)
        with page.expect_navigation(url="**/staff/"):
            page.get_by_role("button", name="Log in").tap()
        page.goto(f"{base}/staff/patients/{ids['older']}")
        with page.expect_navigation(url="**/withdraw"):
            page.get_by_role("link", name="Record a withdrawal…").first.tap()
        page.fill("#reason", "Stopping the treatment")
        page.get_by_label("On the tablet “Front desk 1”").check()
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the withdrawal page scrolls sideways by {overflow}px"
        page.screenshot(path=str(SCREENSHOTS / "withdrawal-portrait.png"), full_page=True)
        with page.expect_navigation(url="**/withdraw"):
            page.get_by_role("button", name="Record the withdrawal").tap()
        assert "Waiting for the patient's signature" in page.inner_text("main")

        pad = tablet.new_page()
        pad.set_default_timeout(10_000)
        pad.goto(f"{base}/tablet/")
        pad.wait_for_url("**/tablet/withdrawal")
        assert pad.inner_text("h1") == "Withdrawing your consent, Ana"
        draw(pad, "canvas")
        pad.screenshot(path=str(SCREENSHOTS / "withdrawal-tablet-portrait.png"), full_page=True)
        with pad.expect_navigation(url="**/tablet/withdrawal/done"):
            pad.get_by_role("button", name="Confirm the withdrawal").tap()

        page.goto(f"{base}/staff/patients/{ids['older']}")
        assert page.locator("td.validity", has_text="withdrawn on").count() == 1
    finally:
        context.close()
        tablet.close()
