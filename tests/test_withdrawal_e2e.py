"""A withdrawal signed on a tablet, in real headless Chromium at tablet size: a clinician opens
the withdraw page, gives the reason, picks the front-desk tablet and sends it; staff see it
waiting; on the tablet the patient sees their first name and the withdrawal statement, is told
at the pad that a signature is missing, signs with a finger and is thanked; the sealed PDF holds
(pyHanko's validator) and shows the signature and the withdrawal. Screenshots go to
`test-artifacts/screenshots/withdrawal-*`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from io import BytesIO
from typing import Any

import pytest
from pypdf import PdfReader

from intake.archive.tablets import Tablets
from intake.archive.withdrawals import withdrawal_of
from intake.submission import validate_submission
from intake.tablet.devices import COOKIE
from tests.support.app import app_settings, new_app
from tests.support.browser import PORTRAIT, serving
from tests.support.devices import enrol
from tests.support.pdf import words
from tests.support.staff import make_staff
from tests.test_tablet_e2e import draw, shoot, strokes_in, tap
from tests.test_visit_e2e import DESK, outside_the_browsers_loop, staff_page


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    app = new_app(app_settings(tmp_path_factory.mktemp("withdrawal-e2e"), TESTING=False))
    with serving(app) as base_url:
        yield base_url, app
    app.extensions["archive"].dispose()


@pytest.fixture
def tablet(chromium: Any, server: tuple[str, Any]) -> Iterator[tuple[Any, str]]:
    base_url, app = server
    context = chromium.new_context(viewport=PORTRAIT, has_touch=True, is_mobile=True)
    token = enrol(app.extensions["archive"], "Front desk 1")
    context.add_cookies([{"name": COOKIE, "value": token, "url": base_url, "httpOnly": True}])
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page, Tablets(app.extensions["archive"]).check(token).id
    context.close()


def test_staff_send_a_withdrawal_and_the_patient_signs_it_on_the_tablet(
    chromium, tablet, server, demo_data, definition
):
    page, _ = tablet
    base, app = server
    archive = app.extensions["archive"]
    consent_id = outside_the_browsers_loop(
        lambda: archive.submit(validate_submission(demo_data, archive.catalog), DESK)
    )
    make_staff(archive, "clinician")
    staff = staff_page(chromium, base)
    staff.goto(f"{base}/staff/consents/{consent_id}/withdraw")
    assert staff.locator("[data-pad]").count() == 0, "no pad on the clinician's screen"
    staff.fill("#reason", "Stopping the treatment")
    staff.get_by_label("On the tablet “Front desk 1”").check()
    shoot(staff, "withdrawal-1-staff-send")
    with staff.expect_navigation():
        staff.get_by_role("button", name="Record the withdrawal").tap()
    assert "Waiting for the patient's signature" in staff.inner_text("main")
    assert archive.get(consent_id).withdrawn_at is None

    page.goto(f"{base}/tablet/")
    page.wait_for_url(re.compile(r"/tablet/withdrawal$"))
    assert page.inner_text("h1") == "Withdrawing your consent, Zoë"
    main = page.inner_text("main")
    assert "O'Brien" not in main and "1985" not in main and "Stopping" not in main
    assert definition.withdrawal_meaning in main
    shoot(page, "withdrawal-2-tablet")
    tap(page, "Confirm the withdrawal")
    page.wait_for_selector("#error-summary:not([hidden])")
    assert "Please sign on the pad." in page.inner_text(".pad")
    draw(page, "#signature-pad")
    signed = strokes_in(page, "signature")
    assert len(signed) == 2
    tap(page, "Confirm the withdrawal")
    page.wait_for_url(re.compile(r"/tablet/withdrawal/done$"))
    assert "hand the tablet back" in page.inner_text("main")
    shoot(page, "withdrawal-3-done")

    found = withdrawal_of(archive, consent_id)
    assert found is not None and found.patient_signed
    pdf = archive.records.pdf(found.record_id)
    assert outside_the_browsers_loop(lambda: archive.check(pdf).holds)
    reader = PdfReader(BytesIO(pdf))
    text = words(reader.pages[0].extract_text())
    assert "Withdrawal of consent" in text and "Patient signature" in text
    assert "Stopping the treatment" in text and "Front desk 1" in text
    (attached,) = reader.attachments["record.json"]
    assert b'"strokes"' in attached and b'"tablet":"Front desk 1"' in attached

    staff.reload()
    assert "This consent was withdrawn already." in staff.inner_text("main")
    assert "zoe" not in staff.url.lower() and "brien" not in staff.url.lower()
    staff.context.close()
