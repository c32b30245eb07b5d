"""The whole treatment course in real headless Chromium, at tablet size.

An admin adds two lots; a patient signs the full consent on an enrolled tablet; a clinician
records the first injection, choosing the site by tapping the picture; then three weekly
check-ins and injections (one check-in reports a reaction, which blocks the injection until a
clinician reviews it; one injection is tried with a lot that expired since the form was opened,
and refused with the reason on screen), and a monthly one, each from today's list. The app's
clock is moved forward between visits (the staff log in again each time, as a login lasts hours,
not weeks). The check-ins are made through the visits service (`intake.archive.visits`), signed
and sealed as the tablet's page does it. Screenshots of today's list and of the injection record
go to `docs/screenshots/` for the README.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from intake.archive.audit import Actor
from intake.archive.course_models import Injection, Patient
from intake.archive.models import Consent, utcnow
from intake.archive.tablets import Tablets
from intake.archive.visits import Visits
from intake.checkin import validate_checkin
from intake.config import PROJECT_ROOT
from intake.tablet.devices import COOKIE
from tests.support.app import app_settings, new_app
from tests.support.browser import PORTRAIT, serving
from tests.support.course_rows import add_patient
from tests.support.staff import EMAILS, PASSWORD, make_staff, next_code
from tests.test_tablet_e2e import arrive, fill_in, tap

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


def in_thread(call: Callable[[], Any]) -> Any:
    """Run `call` in a thread of its own: sealing runs asyncio, which Playwright's loop in this
    thread would be in the way of."""
    result: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            result.append(call())
        except BaseException as error:  # noqa: BLE001 - raised again below
            errors.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(120)
    if errors:
        raise errors[0]
    return result[0] if result else None


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


def check_in(app: Any, clock: Clock, patient_id: str, tablet_id: str, **answers: Any) -> str:
    """A visit started by the front desk and checked in on the tablet (sealed); its id."""
    archive = app.extensions["archive"]
    definition = archive.catalog.get("b12-methylcobalamin")
    given = {q.id: answers.get(q.id, {"yes": False}) for q in definition.visit_screening}
    data = {"answers": given, "signature": PAD, "signed_at": clock().isoformat()}
    visits = Visits(archive)

    def run() -> str:
        visit = visits.start(patient_id, tablet_id, Actor(), today=clock().date())
        visits.check_in(
            visit.id,
            tablet_id,
            validate_checkin(data, definition),
            Actor(tablet_id=tablet_id),
            device={"user_agent": "Tablet", "ip": "192.0.2.7"},
        )
        return visit.id

    return in_thread(run)


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
    accounts = {role: make_staff(archive, role) for role in ("admin", "clinician", "front-desk")}
    clinician = accounts["clinician"]
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
        tablet.close()
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

        # Weeks 1 and 2: check-ins; the second reports a mild reaction.
        mild = definition.side_effects[0]
        for week, answers in ((1, {}), (2, {"reaction_after_last": {
            "yes": True, "tier": mild.tier, "items": [mild.items[0]]}})):  # fmt: skip
            day = day0 + timedelta(days=7 * week)
            clock.to(day)
            log_in(page, base, "clinician", archive)
            visit_id = check_in(app, clock, patient_id, enrolled.tablet.id, **answers)
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
                in_thread(
                    lambda visit_id=visit_id: Visits(archive).review(
                        visit_id, clinician, "Redness settled; cleared to inject.",
                        Actor(staff_id=clinician.id),
                    )
                )  # fmt: skip
                page.reload()
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
        visit_id = check_in(app, clock, patient_id, enrolled.tablet.id)
        page.goto(f"{base}/staff/visits/{visit_id}/injection")
        clock.to(day20 + timedelta(days=1), 0, 1)
        record(page, "B12-SHORT", "deltoid-right",
               given_at=f"{(day20 + timedelta(days=1)).isoformat()}T00:01")  # fmt: skip
        refused = page.inner_text("#lot_id")
        assert f"This lot expired on {day20.isoformat()}." in refused
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
        visit_id = check_in(app, clock, patient_id, enrolled.tablet.id)
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
    finally:
        staff.close()
    with archive.sessions() as db:
        given = db.query(Injection).order_by(Injection.given_at).all()
    assert [i.dose_number for i in given] == [1, 2, 3, 4, 5]
    assert all(archive.records.get(i.record_id).status == "archived" for i in given)
