"""Enrolled tablets, through the real app on SQLite and PostgreSQL: an admin's one-time code,
the tablet enrolling with it, every tablet URL refused to anyone else, revoking, the staff's
"Start a patient session", the per-minute limits, and the setup link enrolling its browser."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from intake.archive.audit import CLI
from intake.archive.models import Consent, Tablet
from intake.archive.setup import SETUP_PATH, issue_setup_token
from intake.archive.tablets import BAD_CODE, Tablets
from intake.tablet.devices import COOKIE, SECURE_COOKIE
from tests.support.app import B12, app_settings, new_app, on_both_databases
from tests.support.devices import plain_browser
from tests.support.staff import StaffActions, events, make_staff
from tests.support.tablet import TabletActions, csrf_token

pytestmark = pytest.mark.usefixtures("fast_passwords")
app_config = pytest.fixture(on_both_databases, name="app_config")

REFUSED = "This device is not one of the clinic's tablets"
TOO_MANY = "Too many new forms from this tablet; wait a minute"


@pytest.fixture
def admin(app, archive) -> StaffActions:
    make_staff(archive, "admin")
    actions = StaffActions(plain_browser(app))
    actions.login_as("admin")
    return actions


def new_code(admin: StaffActions) -> tuple[str, str]:
    """The code and the enrolment URL an admin's Tablets page shows."""
    page = admin.post("/staff/tablets/code")
    assert page.status_code == 200, page.text
    code = re.search(r'aria-label="Enrolment code"><code>([A-Z0-9-]+)</code>', page.text)
    qr = re.search(r'<img class="enrol-qr" src="(data:image/svg\+xml[^"]+)"', page.text)
    assert code and qr, page.text
    return code.group(1), qr.group(1)


def enrol(browser, code: str, name: str = "Front desk 1"):
    page = browser.get(f"/tablet/enrol?code={code}")
    assert page.status_code == 200
    fields = {"csrf_token": csrf_token(page.text), "code": code, "name": name}
    return browser.post("/tablet/enrol", data=fields)


def tablet_rows(archive) -> list[Tablet]:
    with archive.sessions() as session:
        return list(session.scalars(select(Tablet).order_by(Tablet.created_at)))


def tablet_urls(app) -> list[tuple[str, str]]:
    """(method, URL) of every tablet route but the enrolment page."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("tablet.") or rule.endpoint == "tablet.enrol":
            continue
        url = rule.rule.replace("<form_id>", B12).replace("<token>", "x" * 43)
        found += [(method, url) for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return found


def test_an_admin_enrols_a_tablet_that_then_takes_a_consent(app, archive, admin, demo_data):
    code, qr = new_code(admin)
    assert len(code) == 9 and qr.startswith("data:image/svg+xml")
    browser = plain_browser(app)
    assert browser.get("/tablet/").status_code == 403

    response = enrol(browser, code.lower().replace("-", " "))  # as typed: case and gaps ignored
    assert response.status_code == 302 and response.headers["Location"] == "/tablet/"
    cookie = browser.get_cookie(COOKIE)
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"
    assert not cookie.secure  # plain HTTP here; see the HTTPS test for the __Host- cookie
    (tablet,) = tablet_rows(archive)
    assert tablet.name == "Front desk 1" and tablet.revoked_at is None
    assert tablet.token_sha256 != cookie.value and cookie.value not in tablet.token_sha256
    assert "is enrolled as “Front desk 1”" in browser.get("/tablet/").text

    actions = TabletActions(browser)
    actions.fill(demo_data)
    assert actions.submit().headers["Location"] == "/tablet/done"
    with archive.sessions() as session:
        consent = session.scalar(select(Consent))
    assert consent.device_id == tablet.id
    pdf = PdfReader(io.BytesIO(archive.pdf(consent.id)))
    record = pdf.pages[-1].extract_text()
    assert "Tablet" in record and "Front desk 1" in record
    page = admin.client.get(f"/staff/consents/{consent.id}").text
    assert "<dt>Tablet</dt><dd>Front desk 1</dd>" in page

    listing = admin.client.get("/staff/tablets").text
    assert "Front desk 1" in listing and "Ada Admin" in listing
    assert [e.event for e in events(archive, "tablet code issued")] == ["tablet code issued"]
    (enrolled,) = [e for e in events(archive, "tablet enrolled") if e.target == tablet.id]
    assert enrolled.target == tablet.id


def test_a_browser_that_is_not_a_tablet_is_refused_on_every_tablet_url(app, archive):
    browser = plain_browser(app)
    assert "Enrol this tablet" in browser.get("/tablet/enrol").text
    urls = tablet_urls(app)
    assert ("POST", "/tablet/submit") in urls and ("GET", "/tablet/") in urls
    token = csrf_token(browser.get("/tablet/enrol").text)  # posts pass CSRF, then are refused
    for method, url in urls:
        response = browser.open(url, method=method, data={"csrf_token": token})
        assert response.status_code == 403, (method, url, response.status_code)
        assert REFUSED in response.text and "/tablet/enrol" in response.text
    # The trail records the refused device, once a minute per address, not once per request.
    assert len(events(archive, "device refused")) == 1
    assert archive.counts() == {}


def test_a_revoked_tablet_is_refused_at_its_next_request(app, archive, admin, demo_data):
    code, _ = new_code(admin)
    browser = plain_browser(app)
    enrol(browser, code)
    actions = TabletActions(browser)
    actions.fill(demo_data, until="sign")
    (tablet,) = tablet_rows(archive)
    assert admin.post(f"/staff/tablets/{tablet.id}/revoke").status_code == 302
    assert "is revoked" in admin.client.get("/staff/tablets").text
    for url in ("/tablet/sign", "/tablet/details", f"/tablet/form/{B12}"):
        response = browser.get(url)
        assert response.status_code == 403 and REFUSED in response.text
    assert [e.target for e in events(archive, "tablet revoked")] == [tablet.id]


def test_a_tablet_request_the_database_cannot_answer_gets_the_hand_back_page(
    app, archive, demo_data, caplog
):
    browser = app.test_client()
    TabletActions(browser).fill(demo_data, until="health")
    with archive.engine.begin() as connection:  # the tablet's own row cannot be read
        connection.exec_driver_sql("ALTER TABLE tablets RENAME TO tablets_away")
    try:
        response = browser.get("/tablet/health")
    finally:
        with archive.engine.begin() as connection:
            connection.exec_driver_sql("ALTER TABLE tablets_away RENAME TO tablets")
    assert response.status_code == 503
    assert "Please hand the tablet back to the front desk" in response.text
    assert "/tablet/health could not be saved (" in caplog.text and "Error)" in caplog.text
    assert browser.get("/tablet/health").status_code == 200, "the same tablet, answered again"


def test_a_used_or_expired_code_is_refused(app, archive, admin, monkeypatch):
    code, _ = new_code(admin)
    assert enrol(plain_browser(app), code).status_code == 302
    second = plain_browser(app)
    again = enrol(second, code, "Another")
    assert again.status_code == 422 and BAD_CODE in again.text
    assert second.get_cookie(COOKIE) is None and len(tablet_rows(archive)) == 1

    late, _ = new_code(admin)
    later = archive.clock() + timedelta(minutes=11)
    monkeypatch.setattr(archive, "clock", lambda: later)
    refused = enrol(plain_browser(app), late, "Late")
    assert refused.status_code == 422 and BAD_CODE in refused.text
    for bad in ("", "ABCD-EFGH"):
        response = enrol(plain_browser(app), bad, "Guess")
        assert response.status_code == 422
    assert len(tablet_rows(archive)) == 1


def test_enrolment_names_a_missing_name(app, admin):
    code, _ = new_code(admin)
    response = enrol(plain_browser(app), code, "   ")
    assert response.status_code == 422
    assert "Name of this tablet is required" in response.text


def test_a_staff_started_session_opens_the_flow_for_one_patient(app, archive, demo_data):
    make_staff(archive, "front-desk")
    browser = plain_browser(app)
    desk = StaffActions(browser)
    desk.login_as("front-desk")
    assert browser.get("/tablet/").status_code == 403  # a staff login alone is no tablet
    # Opening a tablet page ended the staff login in this browser, too.
    assert browser.get("/staff/").headers["Location"] == "/staff/login"
    desk.login_as("front-desk")
    started = desk.post("/staff/patient-session", {"form_id": B12})
    assert started.headers["Location"] == f"/tablet/form/{B12}"
    actions = TabletActions(browser)
    actions.fill(demo_data)
    assert actions.submit().headers["Location"] == "/tablet/done"
    with archive.sessions() as session:
        assert session.scalar(select(Consent.device_id)) is None
    # The next patient needs a staff member again.
    assert actions.start().status_code == 403
    assert archive.counts() == {"archived": 1}


def test_new_sessions_past_the_tablets_limit_get_a_clear_429(tmp_path, database_url):
    app = new_app(app_settings(tmp_path, DATABASE_URL=database_url, TABLET_SESSIONS_PER_MINUTE=3))
    try:
        actions = TabletActions(app.test_client())
        for _ in range(3):
            assert actions.start().status_code == 302
        refused = actions.start()
        assert refused.status_code == 429 and TOO_MANY in refused.text
        assert refused.headers["Retry-After"] == "60"
        # Another tablet at the same address is not held up by this one's limit...
        assert TabletActions(app.test_client()).start().status_code == 302
        # ...and a minute later this one may start again.
        later = app.extensions["archive"].clock() + timedelta(seconds=61)
        app.extensions["archive"].clock = lambda: later
        assert actions.start().status_code == 302
    finally:
        app.extensions["archive"].dispose()


def test_submits_past_the_addresss_limit_get_a_clear_429(tmp_path, database_url, demo_data):
    app = new_app(app_settings(tmp_path, DATABASE_URL=database_url, ADDRESS_SUBMITS_PER_MINUTE=2))
    try:
        for number in range(3):
            actions = TabletActions(app.test_client())  # three tablets behind one router
            actions.fill(demo_data)
            response = actions.submit()
            if number < 2:
                assert response.headers["Location"] == "/tablet/done"
        assert response.status_code == 429
        assert "Too many forms submitted from this network address" in response.text
        assert app.extensions["archive"].counts() == {"archived": 2}
    finally:
        app.extensions["archive"].dispose()


def test_the_setup_link_enrols_the_browser_that_opens_it(app, archive, demo_data):
    token = issue_setup_token(archive, CLI)
    browser = plain_browser(app)
    page = browser.get(SETUP_PATH + token)
    fields = {
        "csrf_token": csrf_token(page.text),
        "name": "Ana Ruiz",
        "email": "ana@clinic.example",
        "password": "a long passphrase",
    }
    assert browser.post(SETUP_PATH + token, data=fields).status_code == 302
    (tablet,) = tablet_rows(archive)
    assert tablet.name == "First tablet (setup link)" and tablet.enrolled_by
    actions = TabletActions(browser)
    actions.fill(demo_data)
    assert actions.submit().headers["Location"] == "/tablet/done"


def test_under_https_the_credential_is_a_secure_host_cookie(tmp_path, database_url):
    app = new_app(app_settings(tmp_path, DATABASE_URL=database_url, PROXY_HOPS=1))
    try:
        archive = app.extensions["archive"]
        code = Tablets(archive).issue_code(CLI).code
        browser = plain_browser(app)
        https = {"HTTP_X_FORWARDED_PROTO": "https"}
        page = browser.get("/tablet/enrol", environ_overrides=https)
        fields = {"csrf_token": csrf_token(page.text), "code": code, "name": "Desk"}
        response = browser.post("/tablet/enrol", data=fields, environ_overrides=https)
        assert response.status_code == 302
        set_cookie = response.headers["Set-Cookie"]
        assert set_cookie.startswith(f"{SECURE_COOKIE}=")
        assert "Secure" in set_cookie and "HttpOnly" in set_cookie and "Path=/" in set_cookie
        assert "Domain" not in set_cookie and "SameSite=Lax" in set_cookie
        assert browser.get("/tablet/", environ_overrides=https).status_code == 200
    finally:
        app.extensions["archive"].dispose()
