"""Staff login, logout, idle logoff, the cookie, and every staff URL refused without the role."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from intake.archive import staff as staff_accounts
from intake.archive.audit import Actor
from intake.archive.course_models import Lot
from intake.archive.models import ROLES, Staff, new_id
from intake.archive.tablets import Tablets
from tests.support.app import B12, on_both_databases
from tests.support.course_rows import add_visit
from tests.support.staff import (
    EMAILS,
    NAMES,
    PASSWORD,
    StaffActions,
    add_consent,
    events,
    make_staff,
    session_of,
    staff_row,
)
from tests.support.tablet import csrf_token

pytestmark = pytest.mark.usefixtures("fast_passwords")
app_config = pytest.fixture(on_both_databases, name="app_config")

#: The least role each staff page needs. A new route fails `test_every_route_has_a_role` until
#: it is added here, so none can be forgotten by the refusal tests below.
NEEDS = {
    "staff.logout": "front-desk",
    "staff.consents": "front-desk",
    "staff.search": "front-desk",
    "staff.consent": "front-desk",
    "staff.consent_pdf": "front-desk",
    "staff.download": "front-desk",
    "staff.patient_session": "front-desk",
    "staff.review": "clinician",
    "staff.accounts": "admin",
    "staff.new_account": "admin",
    "staff.account": "admin",
    "staff.change_role": "admin",
    "staff.change_password": "admin",
    "staff.switch_account": "admin",
    "staff.retention": "admin",
    "staff.delete_consent": "admin",
    "staff.audit_log": "admin",
    "staff.my_account": "front-desk",
    "staff.change_own_password": "front-desk",
    "staff.staff_language": "front-desk",
    "staff.second_factor": "front-desk",
    "staff.reauthenticate": "front-desk",
    "staff.tablets_list": "admin",
    "staff.tablet_code": "admin",
    "staff.revoke_tablet": "admin",
    "staff.void_consent": "admin",
    "staff.translations": "admin",
    "staff.review_translation": "admin",
    "staff.patients_list": "front-desk",
    "staff.patients_search": "front-desk",
    "staff.patient": "front-desk",
    "staff.confirm_match": "clinician",
    "staff.keep_apart": "clinician",
    "staff.merge_patient": "admin",
    "staff.withdraw": "clinician",
    "staff.withdrawal_pdf": "front-desk",
    "staff.start_visit": "front-desk",
    "staff.cancel_visit": "front-desk",
    "staff.review_visit": "clinician",
    "staff.visit_pdf": "front-desk",
    "staff.today": "front-desk",
    "staff.lots_list": "admin",
    "staff.recall_lot": "admin",
    "staff.record_injection": "clinician",
    "staff.first_injection": "clinician",
    "staff.correct_injection": "clinician",
    "staff.injection_pdf": "front-desk",
    "staff.cancel_withdrawal": "clinician",
}
#: Pages of a sealed course record: the fixture has none, so they answer "not found" (never a
#: refusal or an error) to every role allowed to ask.
OF_A_SEALED_RECORD = {
    "staff.withdrawal_pdf",
    "staff.visit_pdf",
    "staff.injection_pdf",
    "staff.correct_injection",
}
IDLE = "You were logged off after 15 minutes without activity."


@pytest.fixture
def desk(archive, client) -> StaffActions:
    make_staff(archive, "front-desk")
    return StaffActions(client)


def staff_routes(app) -> list[tuple[str, str, set[str]]]:
    """(endpoint, method, URL arguments) of every staff route but the login page."""
    return [
        (rule.endpoint, method, set(rule.arguments))
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("staff.") and rule.endpoint != "staff.login"
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"})
    ]


# --- login -----------------------------------------------------------------------------------


def test_the_login_page_has_a_form_with_csrf(client):
    page = client.get("/staff/login")
    assert page.status_code == 200
    assert 'type="email"' in page.text and 'type="password"' in page.text
    assert csrf_token(page.text)


def test_login_opens_the_consent_list(app, archive, client, desk):
    response = desk.login(EMAILS["front-desk"])
    assert response.status_code == 302 and response.headers["Location"] == "/staff/"
    page = client.get("/staff/")
    assert page.status_code == 200 and NAMES["front-desk"] in page.text
    staff = staff_row(archive, EMAILS["front-desk"])
    assert [e.target for e in events(archive, "login")] == [staff.id]


def test_a_wrong_password_is_refused_and_the_email_kept(archive, client, desk):
    response = desk.login("Frank@Clinic.example", "not the password at all")
    assert response.status_code == 422
    assert "That email and password do not match an active account." in response.text
    assert 'value="Frank@Clinic.example"' in response.text
    assert PASSWORD not in response.text and "not the password at all" not in response.text
    assert client.get("/staff/").status_code == 302
    assert len(events(archive, "login failed")) == 1


def test_an_unknown_email_is_checked_against_a_hash_made_on_first_use(archive, client, desk):
    """No argon2id hash (64 MiB while it is made) at import or start: a worker that only takes
    tablet submissions stays small. An unknown email still costs one password check."""
    staff_accounts._dummy_hash.cache_clear()
    assert staff_accounts._dummy_hash.cache_info().currsize == 0
    response = desk.login("nobody@clinic.example", "not the password at all")
    assert response.status_code == 422
    assert "That email and password do not match an active account." in response.text
    assert staff_accounts._dummy_hash.cache_info().misses == 1
    assert staff_accounts._dummy_hash().startswith("$argon2id$")


def test_three_failures_make_the_next_login_wait_even_with_the_right_password(archive, desk):
    for _ in range(3):
        assert desk.login(EMAILS["front-desk"], "a wrong password!").status_code == 422
    response = desk.login(EMAILS["front-desk"], PASSWORD)
    assert response.status_code == 429
    assert "Too many failed attempts. Wait 15 seconds, then try again." in response.text
    assert f'value="{EMAILS["front-desk"]}"' in response.text
    assert desk.client.get("/staff/").status_code == 302
    # Every failed attempt was committed to the audit trail, though the login raised.
    assert len(events(archive, "login failed")) == 3


def test_a_switched_off_account_cannot_log_in(archive, desk):
    staff = staff_row(archive, EMAILS["front-desk"])
    with archive.transaction() as db:
        staff_accounts.change_staff(db, db.get(Staff, staff.id), Actor(), active=False)
    assert desk.login(EMAILS["front-desk"]).status_code == 422


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [
        ("", PASSWORD, "Enter your email."),
        (EMAILS["front-desk"], "", "Enter your password."),
    ],
)
def test_an_empty_field_is_named(desk, email, password, message):
    response = desk.login(email, password)
    assert response.status_code == 422 and message in response.text


def test_a_logged_in_browser_skips_the_login_page(desk):
    desk.login_as("front-desk")
    response = desk.client.get("/staff/login")
    assert response.status_code == 302 and response.headers["Location"] == "/staff/"


# --- the cookie, logout, idle logoff ---------------------------------------------------------


def test_the_cookie_holds_only_the_random_token(app, archive, client, desk):
    desk.login_as("front-desk")
    client.get("/staff/")
    held = session_of(app, client)
    assert set(held) <= {"staff_token", "csrf_token", "_flashes"}
    assert len(held["staff_token"]) >= 40
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    for secret in (EMAILS["front-desk"], "Frank", "front-desk", PASSWORD):
        assert secret not in str(held) and secret not in cookie


def test_logout_ends_the_session_for_good(app, archive, client, desk):
    desk.login_as("front-desk")
    old_cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    response = desk.logout()
    assert response.status_code == 302 and response.headers["Location"] == "/staff/login"
    assert "You are logged out." in client.get("/staff/login").text
    assert client.get("/staff/").status_code == 302
    # The old cookie, replayed, opens nothing: the server ended the session it names.
    client.set_cookie(app.config["SESSION_COOKIE_NAME"], old_cookie)
    response = client.get("/staff/")
    assert response.status_code == 302 and response.headers["Location"] == "/staff/login"
    assert len(events(archive, "logout")) == 1


def test_fifteen_idle_minutes_log_off(archive, client, desk, monkeypatch):
    desk.login_as("front-desk")
    start = archive.clock()
    monkeypatch.setattr(archive, "clock", lambda: start + timedelta(minutes=14))
    assert client.get("/staff/").status_code == 200
    monkeypatch.setattr(archive, "clock", lambda: start + timedelta(minutes=28))
    assert client.get("/staff/").status_code == 200, "each request restarts the 15 minutes"
    monkeypatch.setattr(archive, "clock", lambda: start + timedelta(minutes=45))
    response = client.get("/staff/")
    assert response.status_code == 302 and response.headers["Location"] == "/staff/login"
    page = client.get("/staff/login")
    assert page.status_code == 200 and IDLE in page.text
    assert client.get("/staff/").status_code == 302
    assert len(events(archive, "logoff idle")) == 1


def test_the_idle_page_goes_to_the_login_by_itself(desk):
    desk.login_as("front-desk")
    page = desk.client.get("/staff/").text
    assert 'data-idle-seconds="905"' in page and 'data-login-url="/staff/login"' in page
    assert "<script>" not in page and " onclick=" not in page


# --- every route needs its role --------------------------------------------------------------


def test_every_route_has_a_role(app):
    endpoints = {endpoint for endpoint, _, _ in staff_routes(app)}
    assert endpoints == set(NEEDS)


@pytest.fixture
def url_args(archive, demo_data) -> dict[str, str]:
    consent_id = add_consent(archive, demo_data)
    other = dict(demo_data, patient=dict(demo_data["patient"], legal_name="Ana Ruiz"))
    other["signature"] = dict(demo_data["signature"], typed_name="Ana Ruiz")
    other_consent = add_consent(archive, other)
    tablet = Tablets(archive).enrol_directly("Front desk", Actor(), enrolled_by=None).tablet
    patient_id, other_id = (archive.get(c).patient_id for c in (consent_id, other_consent))
    with archive.transaction() as session:
        lot = Lot(
            product="Methylcobalamin",
            strength="1 mg/mL",
            supplier="Pharmacy",
            lot_number="L1",
            expires_on=date(2099, 1, 1),
            created_at=datetime.now(UTC),
        )
        session.add(lot)
        session.flush()
        lot_id = lot.id
    return {
        "patient_id": patient_id,
        "other_id": other_id,
        "visit_id": add_visit(archive, patient_id, consent_id),
        "lot_id": lot_id,
        "injection_id": new_id(),
        "consent_id": consent_id,
        "staff_id": make_staff(archive, "admin").id,
        "tablet_id": tablet.id,
        "form_id": B12,
        "language": "es",
    }


def urls(app, url_args) -> list[tuple[str, str, str]]:
    with app.test_request_context():
        from flask import url_for

        return [
            (endpoint, method, url_for(endpoint, **{a: url_args[a] for a in arguments}))
            for endpoint, method, arguments in staff_routes(app)
        ]


def call(actions: StaffActions, method: str, url: str):
    if method == "GET":
        return actions.client.get(url)
    return actions.post(url, {"note": "x", "role": "admin", "state": "off", "form_id": B12})


def test_every_url_sends_a_logged_out_browser_to_the_login(app, client, url_args):
    actions = StaffActions(client)
    for _, method, url in urls(app, url_args):
        response = call(actions, method, url)
        assert response.status_code == 302, (method, url, response.status_code)
        assert response.headers["Location"] == "/staff/login", (method, url)


def test_every_url_refuses_a_role_below_its_own(app, archive, url_args):
    for role in ROLES[:-1]:
        make_staff(archive, role)
        actions = StaffActions(app.test_client())
        actions.login_as(role)
        for endpoint, method, url in urls(app, url_args):
            if ROLES.index(role) >= ROLES.index(NEEDS[endpoint]):
                continue
            response = call(actions, method, url)
            assert response.status_code == 403, (role, method, url, response.status_code)
            assert "Not for your role" in response.text
        assert actions.client.get("/staff/").status_code == 200, "still logged in"
    assert events(archive, "staff changed") == []
    assert events(archive, "consent reviewed") == []
    assert archive.get(url_args["consent_id"]), "nothing was deleted"


def test_every_page_opens_for_its_role(app, archive, url_args):
    for role in ROLES:
        if role != "admin":
            make_staff(archive, role)
        client = app.test_client()
        StaffActions(client).login_as(role)
        for endpoint, method, url in urls(app, url_args):
            if method == "GET" and ROLES.index(role) >= ROLES.index(NEEDS[endpoint]):
                response = client.get(url)
                opens = 404 if endpoint in OF_A_SEALED_RECORD else 200
                assert response.status_code == opens, (role, url, response.status_code)


def test_a_post_without_its_csrf_token_is_refused(desk):
    desk.login_as("front-desk")
    response = desk.client.post("/staff/logout")
    assert response.status_code == 400 and "This page has expired" in response.text
    assert desk.client.get("/staff/").status_code == 200


# --- handing the tablet to a patient ---------------------------------------------------------


def test_starting_a_patient_session_logs_staff_out_and_opens_the_tablet(app, archive, desk):
    desk.login_as("front-desk")
    page = desk.client.get("/staff/patient-session")
    assert f'value="{B12}"' in page.text
    response = desk.post("/staff/patient-session", {"form_id": B12})
    assert response.status_code == 302 and response.headers["Location"] == f"/tablet/form/{B12}"
    assert "staff_token" not in session_of(app, desk.client)
    assert desk.client.get("/staff/").status_code == 302
    assert desk.client.get(f"/tablet/form/{B12}").status_code == 200
    staff = staff_row(archive, EMAILS["front-desk"])
    started = events(archive, "patient session started")
    assert [(e.staff_id, e.target) for e in started] == [(staff.id, B12)]
    assert len(events(archive, "logout")) == 1


def test_a_patient_session_needs_a_known_form(desk):
    desk.login_as("front-desk")
    response = desk.post("/staff/patient-session", {"form_id": "botox"})
    assert response.status_code == 422 and "Choose one of these forms." in response.text
    assert desk.client.get("/staff/").status_code == 200
