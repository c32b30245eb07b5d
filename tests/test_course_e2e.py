"""The whole treatment course in real headless Chromium, at tablet size.

An admin adds two lots; a patient signs the full consent on an enrolled tablet; a clinician
records the first injection, choosing the site by tapping the picture (and with the arrow keys);
then three weekly check-ins on the tablet, each started from the patient's page, and their
injections from today's list: one check-in reports a reaction, which blocks the injection until
a clinician reviews it on the patient's page; one injection is tried with a lot that expired
after the form was opened (refused, with the reason at the lot), then given from the other.
Then the monthly one, and at the next check-in a withdrawal: the injection is refused with the
reason and the patient is no longer due. The app's clock is moved forward between visits (the
staff log in again each time, as a login lasts hours, not weeks). Screenshots of today's list and
of the injection record go to `docs/screenshots/` for the README.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from intake.archive.audit import Actor
from intake.archive.course_models import Injection, Patient
from intake.archive.models import Consent, utcnow
from intake.archive.tablets import Tablets
from intake.config import PROJECT_ROOT
from intake.languages import day_shown
from intake.tablet.devices import COOKIE
from tests.support.app import app_settings, new_app
from tests.support.browser import PORTRAIT, serving
from tests.support.course_rows import add_patient
from tests.support.staff import EMAILS, PASSWORD, make_staff, next_code
from tests.test_tablet_e2e import arrive, draw, fill_in, tap

pytestmark = [pytest.mark.usefixtures("fast_passwords"), pytest.mark.slow]

README_SHOTS = PROJECT_ROOT / "docs" / "screenshots"
PAD = {
    "width": 600,
    "height": 200,
    "strokes": [[[20, 150], [120, 40], [220, 160], [320, 50]], [[340, 120], [560, 110]]],
}


class Clock:
    """The app's clock, moved forward by the test: the real time plus `offset`."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return utcnow() + self.offset

    def to(self, day: date, hour: int = 10, minute: int = 0) -> None:
        target = datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
        self.offset = target - utcnow()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any, Clock]]:
    settings = app_settings(
        tmp_path_factory.mktemp("course-e2e"), TESTING=False, CLINIC_TIMEZONE="UTC"
    )
    app = new_app(settings)
    clock = Clock()
    app.extensions["archive"].clock = clock
    with serving(app) as base_url:
        yield base_url, app, clock
    app.extensions["archive"].dispose()


def log_in(page: Any, base: str, role: str, archive: Any) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/staff/login")
    page.fill("#email", EMAILS[role])
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Log in").tap()
    if role == "admin":
        page.wait_for_selector("#code")
        page.fill("#code", next_code(archive, EMAILS[role]))
        page.get_by_role("button", name="Log in").tap()
    page.wait_for_url(f"{base}/staff/")


def check_in(staff: Any, tablet: Any, base: str, patient_id: str, reaction: Any = None) -> str:
    """The clinician starts a visit for the front-desk tablet from the patient's page; the
    patient checks in there (all "no", or a reaction `(tier heading, item)`); the visit's id."""
    staff.goto(f"{base}/staff/patients/{patient_id}")
    staff.select_option("#tablet", label="Front desk 1")
    with staff.expect_navigation():
        staff.get_by_role("button", name="Start a visit on this tablet").tap()
    tablet.goto(f"{base}/tablet/")
    tablet.wait_for_url(re.compile(r"/tablet/visit$"))
    assert tablet.inner_text("h1") == "Welcome back, Zoë"
    for label in tablet.locator("fieldset.question:not(.reaction)").all():
        question = label.get_attribute("id").removeprefix("q_")
        yes = reaction is not None and question == "reaction_after_last"
        tablet.locator(f"label[for='q_{question}-{0 if yes else 1}']").tap()
    if reaction is not None:
        tablet.get_by_label(reaction[0], exact=True).check()
        tablet.get_by_label(reaction[1], exact=True).check()
    draw(tablet, "#signature-pad")
    tap(tablet, "Confirm and check in")
    tablet.wait_for_url(re.compile(r"/tablet/visit/done$"))
    staff.reload()
    return (
        staff.locator("section.visits [id^=visit-]")
        .first.get_attribute("id")
        .removeprefix("visit-")
    )


def record(page: Any, lot_label: str, site: str, *, given_at: str | None = None) -> None:
    """Fill the injection form as a clinician would, tapping the site on the picture."""
    page.get_by_label(lot_label).check()
    page.fill("#dose_mg", "1")
    page.fill("#volume_ml", "1")
    page.locator(f"label.spot-{site}").tap()
    assert page.locator(f"input[name=site][value={site}]").is_checked()
    if given_at:
        page.fill("#given_at", given_at)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign and record").tap()


def doses(app: Any, patient_id: str) -> tuple[int, date | None]:
    with app.extensions["archive"].sessions() as db:
        row = db.get(Patient, patient_id)
        return row.doses_given, row.next_due_on


def test_the_whole_course(server, chromium, demo_data, definition):
    base, app, clock = server
    archive = app.extensions["archive"]
    for role in ("admin", "clinician", "front-desk"):
        make_staff(archive, role)
    enrolled = Tablets(archive).enrol_directly("Front desk 1", Actor(), enrolled_by=None)
    day0 = datetime.now(UTC).date()
    clock.to(day0)

    staff = chromium.new_context(viewport=PORTRAIT, has_touch=True, is_mobile=True)
    page = staff.new_page()
    page.set_default_timeout(15_000)
    try:
        # Day 0: an admin adds two lots; one expires in 20 days.
        log_in(page, base, "admin", archive)
        page.goto(f"{base}/staff/lots")
        for number, expires in (("B12-LONG", day0 + timedelta(days=365)),
                                ("B12-SHORT", day0 + timedelta(days=20))):  # fmt: skip
            page.fill("#product", "Methylcobalamin injection")
            page.fill("#strength", "1 mg/ml")
            page.fill("#supplier", "Hillside Compounding Pharmacy")
            page.fill("#lot_number", number)
            page.fill("#expires_on", expires.isoformat())
            page.get_by_role("button", name="Add the lot").tap()
            page.wait_for_selector(f"text={number}")

        # Day 0: the full consent on the tablet.
        tablet = chromium.new_context(viewport=PORTRAIT, has_touch=True, is_mobile=True)
        tablet.add_cookies(
            [{"name": COOKIE, "value": enrolled.token, "url": base, "httpOnly": True}]
        )
        patient_page = tablet.new_page()
        patient_page.set_default_timeout(15_000)
        fill_in(patient_page, base, demo_data, definition, "course")
        tap(patient_page, "Submit")
        arrive(patient_page, "done")
        with archive.sessions() as db:
            consent = db.query(Consent).one()
        patient_id = consent.patient_id
        assert patient_id and consent.status == "archived"

        # Day 0: the clinician records the first injection from the patient's page.
        log_in(page, base, "clinician", archive)
        page.goto(f"{base}/staff/patients/{patient_id}")
        page.get_by_role("button", name="Record the first injection").tap()
        page.wait_for_url(f"**/staff/visits/{consent.id}/injection")
        # The picture's regions are radio buttons: the arrow keys move between them too.
        page.locator("input[name=site][value=deltoid-left]").focus()
        page.keyboard.press("Space")
        page.keyboard.press("ArrowRight")
        assert page.locator("input[name=site]:checked").get_attribute("value") != "deltoid-left"
        record(page, "B12-LONG", "deltoid-left")
        page.wait_for_url(f"**/staff/patients/{patient_id}")
        assert "Left deltoid" in page.inner_text("section.injections")
        assert doses(app, patient_id) == (1, day0 + timedelta(days=7))

        # Weeks 1 and 2: check-ins on the tablet; the second reports a mild reaction.
        mild = definition.side_effects[0]
        for week, reaction in ((1, None), (2, (mild.heading, mild.items[0]))):
            day = day0 + timedelta(days=7 * week)
            clock.to(day)
            log_in(page, base, "clinician", archive)
            visit_id = check_in(page, patient_page, base, patient_id, reaction)
            page.goto(f"{base}/staff/today")
            row = page.locator("table.at-clinic tbody tr").first
            if week == 1:
                assert "Checked in" in row.inner_text()
                row.get_by_role("link", name="Record the injection").tap()
            else:
                assert "Waiting for review" in row.inner_text()
                row.get_by_role("link", name="Review").tap()
                blocked = page.inner_text(".verdict.bad")
                assert "A check-in answer is flagged" in blocked
                assert page.locator("#password").count() == 0
                # The clinician reviews the answer on the patient's page, then records.
                page.goto(f"{base}/staff/patients/{patient_id}")
                page.fill(f"#review-{visit_id}-note", "Redness settled; cleared to inject.")
                with page.expect_navigation():
                    page.get_by_role("button", name="Keep this review").tap()
                page.goto(f"{base}/staff/today")
                page.locator("table.at-clinic").get_by_role(
                    "link", name="Record the injection"
                ).tap()
            page.wait_for_url(f"**/staff/visits/{visit_id}/injection")
            record(page, "B12-LONG", "deltoid-right" if week == 1 else "deltoid-left")
            page.wait_for_url(f"**/staff/patients/{patient_id}")
            assert doses(app, patient_id) == (week + 1, day + timedelta(days=7))

        # Week 3: the form is opened late on day 20, with the short lot still offered; the
        # injection is given after midnight, when that lot has expired: refused, then given
        # from the other lot.
        day20 = day0 + timedelta(days=20)
        clock.to(day20, 23, 54)
        log_in(page, base, "clinician", archive)
        visit_id = check_in(page, patient_page, base, patient_id)
        page.goto(f"{base}/staff/visits/{visit_id}/injection")
        clock.to(day20 + timedelta(days=1), 0, 1)
        record(page, "B12-SHORT", "deltoid-right",
               given_at=f"{(day20 + timedelta(days=1)).isoformat()}T00:01")  # fmt: skip
        refused = page.inner_text("#lot_id")
        assert f"This lot expired on {day_shown(day20, 'en')}." in refused
        assert page.get_by_label("B12-SHORT").count() == 0, "an expired lot is not offered"
        page.set_viewport_size(PORTRAIT)
        page.screenshot(path=README_SHOTS / "staff-injection-portrait.png", full_page=True)
        record(page, "B12-LONG", "deltoid-right",
               given_at=f"{(day20 + timedelta(days=1)).isoformat()}T00:01")  # fmt: skip
        page.wait_for_url(f"**/staff/patients/{patient_id}")
        day21 = day0 + timedelta(days=21)
        assert doses(app, patient_id) == (4, day21 + timedelta(days=30)), "then monthly"

        # A month later: the monthly injection, from today's list (with other patients due).
        day51 = day21 + timedelta(days=30)
        clock.to(day51)
        for n, late in enumerate((0, 3, 12)):
            add_patient(archive, ("Dana Due", "Omar Overdue", "Lee Lapsed")[n],
                        next_due_on=day51 - timedelta(days=late), doses_given=5)  # fmt: skip
        log_in(page, base, "clinician", archive)
        visit_id = check_in(page, patient_page, base, patient_id)
        page.goto(f"{base}/staff/today")
        assert "Lee Lapsed" in page.inner_text("table.due")
        page.screenshot(path=README_SHOTS / "staff-today-portrait.png")
        page.locator("table.at-clinic").get_by_role("link", name="Record the injection").tap()
        page.wait_for_url(f"**/staff/visits/{visit_id}/injection")
        record(page, "B12-LONG", "gluteal-left")
        page.wait_for_url(f"**/staff/patients/{patient_id}")
        assert doses(app, patient_id) == (5, day51 + timedelta(days=30))
        section = page.inner_text("section.injections")
        assert section.count("B12-LONG") == 5 and "Left gluteal" in section

        # A week later the patient checks in, then withdraws their consent: the injection is
        # refused, with the reason, and they are no longer due.
        day58 = day51 + timedelta(days=7)
        clock.to(day58)
        log_in(page, base, "clinician", archive)
        visit_id = check_in(page, patient_page, base, patient_id)
        page.goto(f"{base}/staff/patients/{patient_id}")
        page.get_by_role("link", name="Record a withdrawal…").tap()
        page.fill("#withdrawn_on", day58.isoformat())
        page.fill("#reason", "Stopping the treatment")
        with page.expect_navigation():
            page.get_by_role("button", name="Record the withdrawal").tap()
        page.goto(f"{base}/staff/visits/{visit_id}/injection")
        assert f"No current consent (withdrawn on {day_shown(day58, 'en')})" in page.inner_text(
            ".verdict.bad"
        )
        assert page.locator("#password").count() == 0
        assert doses(app, patient_id) == (5, None)
        page.goto(f"{base}/staff/today")
        assert "Zoë O'Brien" not in page.inner_text("table.due")
    finally:
        staff.close()
        tablet.close()
    with archive.sessions() as db:
        given = db.query(Injection).order_by(Injection.given_at).all()
    assert [i.dose_number for i in given] == [1, 2, 3, 4, 5]
    assert all(archive.records.get(i.record_id).status == "archived" for i in given)
