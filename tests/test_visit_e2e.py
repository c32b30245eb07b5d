"""The visit check-in in real headless Chromium on touch tablets, portrait and landscape: a
clinician starts the visit from the patient's page for the front-desk tablet; there the patient
is greeted by first name, answers, picks a reaction's tier and item, signs with a finger, is told
at the field what is missing (answers and signature kept), and checks in; the clinician sees the
flagged answer on the patient's page and reviews it. Screenshots go to
`test-artifacts/screenshots/visit-*`."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from intake.archive.audit import Actor
from intake.archive.tablets import Tablets
from intake.archive.visits import Visits
from intake.submission import validate_submission
from intake.tablet.devices import COOKIE
from tests.support.app import app_settings, new_app
from tests.support.browser import PORTRAIT, serving
from tests.support.devices import enrol
from tests.support.staff import EMAILS, PASSWORD, make_staff
from tests.test_tablet_e2e import draw, shoot, strokes_in, tap

DESK = Actor(user_agent="front desk")


def outside_the_browsers_loop(work: Callable[[], Any]) -> Any:
    """Run `work` in a thread of its own: pyHanko runs an event loop, and Playwright's runs in
    this one."""
    results: list[Any] = []
    thread = threading.Thread(target=lambda: results.append(work()))
    thread.start()
    thread.join()
    assert results, "the work failed: see its traceback above"
    return results[0]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    app = new_app(app_settings(tmp_path_factory.mktemp("visit-e2e"), TESTING=False))
    with serving(app) as base_url:
        yield base_url, app
    app.extensions["archive"].dispose()


@pytest.fixture
def tablet(chromium: Any, server: tuple[str, Any]) -> Iterator[tuple[Any, str]]:
    """An enrolled tablet with a touch screen: its page and its tablet id."""
    base_url, app = server
    context = chromium.new_context(viewport=PORTRAIT, has_touch=True, is_mobile=True)
    token = enrol(app.extensions["archive"], "Front desk 1")
    context.add_cookies([{"name": COOKIE, "value": token, "url": base_url, "httpOnly": True}])
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page, Tablets(app.extensions["archive"]).check(token).id
    context.close()


def staff_page(chromium: Any, base: str) -> Any:
    """A clinician logged in on a tablet-sized browser of their own."""
    context = chromium.new_context(viewport=PORTRAIT, has_touch=True, is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{base}/staff/login")
    page.fill("#email", EMAILS["clinician"])
    page.fill("#password", PASSWORD)
    with page.expect_navigation(url="**/staff/"):
        page.get_by_role("button", name="Log in").tap()
    return page


def test_a_returning_patient_checks_in_with_a_reaction_in_under_two_minutes(
    chromium, tablet, server, demo_data, definition
):
    page, tablet_id = tablet
    base, app = server
    archive = app.extensions["archive"]
    consent_id = outside_the_browsers_loop(
        lambda: archive.submit(validate_submission(demo_data, archive.catalog), DESK)
    )
    consent = archive.get(consent_id)
    make_staff(archive, "clinician")
    staff = staff_page(chromium, base)
    staff.goto(f"{base}/staff/patients/{consent.patient_id}")
    staff.select_option("#tablet", label="Front desk 1")
    with staff.expect_navigation():
        staff.get_by_role("button", name="Start a visit on this tablet").tap()
    assert "Waiting on the tablet" in staff.inner_text("section.visits")
    (view,) = Visits(archive).of_patient(consent.patient_id)
    visit = view.visit
    started = time.monotonic()

    page.goto(f"{base}/tablet/")
    page.wait_for_url(re.compile(r"/tablet/visit$"))
    assert page.inner_text("h1") == "Welcome back, Zoë"
    main = page.inner_text("main")
    assert "O'Brien" not in main and "1985" not in main
    follow_up = page.locator("#t_reaction_after_last")
    assert follow_up.is_hidden()  # asked only after a "yes"
    shoot(page, "visit-1-welcome")

    for question in definition.visit_screening:
        if question.id not in ("reaction_after_last", "unwell_today"):
            page.locator(f"label[for='q_{question.id}-1']").tap()
    page.locator("label[for='q_reaction_after_last-0']").tap()
    assert follow_up.is_visible()
    page.get_by_label("More serious side effects", exact=True).check()
    page.get_by_label("muscle cramps", exact=True).check()
    draw(page, "#signature-pad")
    signed = strokes_in(page, "signature")
    assert len(signed) == 2

    # One question left unanswered: the server says so at the question; nothing is lost.
    tap(page, "Confirm and check in")
    page.wait_for_selector("#error-summary:not([hidden])")
    unanswered = page.locator("fieldset#q_unwell_today")
    assert "Please answer yes or no." in unanswered.inner_text()
    assert page.is_checked("#q_reaction_after_last-0")
    assert page.is_checked("input[value='serious']")
    assert page.is_checked("input[value='serious:muscle cramps']")
    assert strokes_in(page, "signature") == signed
    shoot(page, "visit-2-missing-answer")

    page.locator("label[for='q_unwell_today-1']").tap()
    page.locator("#reminder-title").scroll_into_view_if_needed()
    shoot(page, "visit-3-sign")
    tap(page, "Confirm and check in")
    page.wait_for_url(re.compile(r"/tablet/visit/done$"))
    assert "hand the tablet back" in page.inner_text("main")
    shoot(page, "visit-4-done")
    assert time.monotonic() - started < 120

    checked = Visits(archive).get(visit.id)
    assert checked.status == "checked-in" and checked.needs_review
    pdf = archive.records.pdf(checked.record_id)
    assert outside_the_browsers_loop(lambda: archive.check(pdf).holds)

    # The clinician sees the flagged answer on the patient's page and reviews it there.
    staff.reload()
    visits = staff.locator("section.visits")
    assert "Needs review" in visits.inner_text() and "muscle cramps" in visits.inner_text()
    staff.locator(f"#visit-{visit.id}").scroll_into_view_if_needed()
    shoot(staff, "visit-5-staff-needs-review")
    staff.fill(f"#review-{visit.id}-note", "Cramps for a day after the last dose; gone. Fine.")
    with staff.expect_navigation():
        staff.get_by_role("button", name="Keep this review").tap()
    visits = staff.locator("section.visits")
    assert "Reviewed by" in visits.inner_text() and "Needs review" not in visits.inner_text()
    assert "zoe" not in staff.url.lower() and "brien" not in staff.url.lower()
    staff.context.close()
