"""Staff accounts at OWASP ASVS 4 level 2, on SQLite and PostgreSQL, through the real app: the
progressive delay (parallel guesses, a neighbour at the same address), password rules on every
way in, the TOTP second factor (enrol, login, replay, recovery codes, required for admins), the
absolute login lifetime, the `__Host-` cookie, re-authentication, and the tablet ending a staff
login."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pyotp
import pytest

from intake.archive.accounts import Accounts
from intake.archive.audit import Actor
from intake.archive.passwords import COMMON, GUESSABLE, ONLY_SPACES
from intake.archive.staff import NO_MATCH, LoginRefused, StaffError
from intake.archive.throttle import ACCOUNT, ADDRESS
from intake.config import Config
from tests.support.app import B12, on_both_databases
from tests.support.staff import (
    EMAILS,
    PASSWORD,
    SECOND_FACTORS,
    StaffActions,
    enrol_second_factor,
    events,
    make_staff,
    previous_step_code,
    staff_row,
)
from tests.support.tablet import csrf_token

pytestmark = pytest.mark.usefixtures("fast_passwords")
app_config = pytest.fixture(on_both_databases, name="app_config")

ROUTER = Actor(ip="203.0.113.9", user_agent="front desk tablet")


def later(archive, monkeypatch, **delta) -> None:
    """Move the archive's clock (the app's and the service's) on by `delta`."""
    now = archive.clock() + timedelta(**delta)
    monkeypatch.setattr(archive, "clock", lambda: now)


# --- the progressive delay -------------------------------------------------------------------


def test_parallel_guesses_get_no_more_checks_than_the_count_allows(archive, monkeypatch):
    """24 guesses at once at one account, each from its own address: the account's row is
    locked while each is checked, so exactly the free failures are checked and the rest wait."""
    make_staff(archive, "front-desk")
    accounts = Accounts(archive)
    outcomes: list[str] = []
    barrier = threading.Barrier(24)

    def guess(n: int) -> None:
        barrier.wait()
        try:
            accounts.login(EMAILS["front-desk"], f"guess number {n}", Actor(ip=f"198.51.100.{n}"))
        except LoginRefused as refused:
            outcomes.append("waited" if refused.wait_seconds else "checked")

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["checked"] * ACCOUNT.free + ["waited"] * (24 - ACCOUNT.free)
    assert len(events(archive, "login failed")) == ACCOUNT.free
    assert len(events(archive, "login delayed")) == 24 - ACCOUNT.free


def test_the_delay_doubles_up_to_its_cap_and_never_locks_the_owner_out(archive, monkeypatch):
    make_staff(archive, "front-desk")
    accounts = Accounts(archive)
    waits: list[int] = []
    while len(waits) < 10:
        with pytest.raises(LoginRefused) as refused:
            accounts.login(EMAILS["front-desk"], "not the password", ROUTER)
        if refused.value.wait_seconds:
            waits.append(refused.value.wait_seconds)
            later(archive, monkeypatch, seconds=refused.value.wait_seconds)
        else:
            assert refused.value.message == NO_MATCH
    assert waits[:6] == [15, 30, 60, 120, 240, 480]
    assert waits[6:] == [900] * 4, "capped at 15 minutes"
    # Once the wait has passed, the owner's right password opens at once.
    assert accounts.login(EMAILS["front-desk"], PASSWORD, ROUTER)


def test_the_message_says_how_long_truthfully(archive, monkeypatch):
    make_staff(archive, "front-desk")
    accounts = Accounts(archive)

    def refusal(password: str = PASSWORD) -> str:
        with pytest.raises(LoginRefused) as refused:
            accounts.login(EMAILS["front-desk"], password, ROUTER)
        return refused.value.message

    for _ in range(3):
        refusal("not the password")
    assert "Wait 15 seconds," in refusal()
    later(archive, monkeypatch, seconds=14.2)
    assert "Wait 1 second," in refusal()
    later(archive, monkeypatch, seconds=1)
    refusal("not the password")  # the fourth: 30 s
    later(archive, monkeypatch, seconds=30)
    refusal("not the password")  # the fifth: 60 s
    assert "Wait 1 minute," in refusal()
    later(archive, monkeypatch, seconds=1)
    assert "Wait 59 seconds," in refusal()


def test_a_neighbours_mistakes_never_keep_a_colleague_out(archive, client):
    """Behind one clinic router: someone mistypes and guesses until the address waits; a
    colleague's right password (no failures of their own) still opens, and the typo-maker's
    right password waits (their account has failures, and so does the address)."""
    make_staff(archive, "front-desk")
    make_staff(archive, "clinician")
    desk = StaffActions(client)
    for n in range(ADDRESS.free):
        email = EMAILS["front-desk"] if n < 2 else f"someone{n}@clinic.example"
        assert desk.login(email, "a wrong password!").status_code == 422
    refused = desk.login("another@clinic.example", "a wrong password!")
    assert refused.status_code == 429 and "Too many failed attempts. Wait" in refused.text
    assert desk.login(EMAILS["front-desk"], PASSWORD).status_code == 429
    colleague = StaffActions(client.application.test_client())
    response = colleague.login(EMAILS["clinician"], PASSWORD)
    assert response.status_code == 302 and response.headers["Location"] == "/staff/"


def test_a_password_typed_as_the_email_is_not_in_the_trail(archive, client):
    typed = "my secret passphrase 77"
    assert StaffActions(client).login(typed, "whatever it was").status_code == 422
    with archive.engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT * FROM audit_events").fetchall()
        throttles = connection.exec_driver_sql("SELECT * FROM login_throttles").fetchall()
    dump = repr(rows) + repr(throttles)
    assert typed not in dump
    assert [e.target for e in events(archive, "login failed")] == ["unknown email"]


# --- passwords -------------------------------------------------------------------------------

REFUSED = [("password1234", COMMON), (" " * 12, ONLY_SPACES), ("qwertyuiop123", COMMON)]


@pytest.mark.parametrize(("password", "message"), [*REFUSED, ("iloveyou12345", GUESSABLE)])
def test_weak_passwords_are_refused_by_the_service(archive, password, message):
    with pytest.raises(StaffError) as raised:
        Accounts(archive).create(
            email="nia@clinic.example",
            name="Nia",
            role="clinician",
            password=password,
            actor=Actor(),
        )
    assert (raised.value.field, raised.value.message) == ("password", message)


@pytest.mark.parametrize(("password", "message"), REFUSED)
def test_weak_passwords_are_refused_by_the_cli(intake, archive, password, message):
    result = intake(
        "staff",
        "create",
        "--email",
        "nia@clinic.example",
        "--name",
        "Nia",
        "--role",
        "admin",
        "--password-stdin",
        input=password + "\n",
    )
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [f"error: password: {message}"]


@pytest.mark.parametrize(("password", "message"), REFUSED)
def test_weak_passwords_are_refused_at_the_setup_link_field(
    app, archive, client, password, message
):
    from intake.archive.setup import issue_setup_token

    token = issue_setup_token(archive, Actor())
    page = client.get(f"/staff/setup/{token}")
    response = client.post(
        f"/staff/setup/{token}",
        data={
            "csrf_token": csrf_token(page.text),
            "name": "Ana Ruiz",
            "email": "ana@clinic.example",
            "password": password,
        },
    )
    assert response.status_code == 422
    assert f"Password {message}" in response.text.replace("&#39;", "'")


# --- my account: one's own password ----------------------------------------------------------


def test_every_role_changes_their_own_password_with_the_current_one(archive, client):
    make_staff(archive, "front-desk")
    desk = StaffActions(client)
    desk.login_as("front-desk")
    assert desk.client.get("/staff/me").status_code == 200
    new = "a brand new tablet phrase"
    wrong = desk.post(
        "/staff/me/password",
        {"current_password": "not my password!", "password": new, "confirm": new},
    )
    assert wrong.status_code == 422
    assert "Current password is not your current password" in wrong.text
    differ = desk.post(
        "/staff/me/password", {"current_password": PASSWORD, "password": new, "confirm": "x"}
    )
    assert differ.status_code == 422 and "The two new passwords are not the same." in differ.text
    weak = desk.post(
        "/staff/me/password",
        {"current_password": PASSWORD, "password": "password1234", "confirm": "password1234"},
    )
    assert weak.status_code == 422 and f"New password {COMMON}" in weak.text
    done = desk.post(
        "/staff/me/password", {"current_password": PASSWORD, "password": new, "confirm": new}
    )
    assert done.status_code == 302 and done.headers["Location"] == "/staff/login"
    assert desk.client.get("/staff/").status_code == 302, "every login of the account ended"
    assert desk.login(EMAILS["front-desk"], PASSWORD).status_code == 422
    assert desk.login(EMAILS["front-desk"], new).status_code == 302


def test_an_admin_cannot_set_their_own_password_without_the_current_one(archive, client):
    admin = make_staff(archive, "admin")
    actions = StaffActions(client)
    actions.login_as("admin")
    response = actions.post(f"/staff/accounts/{admin.id}/password", {"password": "x" * 30})
    assert response.status_code == 422
    assert "Change your own password under My account" in response.text
    actions.logout()
    assert actions.login(EMAILS["admin"], PASSWORD).status_code == 302, "the password stayed"


# --- the second factor -----------------------------------------------------------------------


def enrol_through_the_page(actions: StaffActions) -> tuple[str, list[str]]:
    page = actions.client.get("/staff/me/second-factor")
    assert page.status_code == 200
    secret = re.search(r'id="second-factor-secret">([A-Z2-7 ]+)<', page.text)[1].replace(" ", "")
    assert 'src="data:image/svg+xml' in page.text
    archive = actions.client.application.extensions["archive"]
    wrong = actions.post("/staff/me/second-factor", {"code": "000000"})
    assert wrong.status_code == 422 and "is not the code your app shows now" in wrong.text
    code = previous_step_code(archive, pyotp.TOTP(secret))
    done = actions.post("/staff/me/second-factor", {"code": code})
    assert done.status_code == 200
    codes = re.findall(r"<li><code>([a-z0-9]{5}-[a-z0-9]{5})</code></li>", done.text)
    assert len(codes) == 10
    return secret, codes


def code_step(actions: StaffActions, email: str):
    page = actions.client.get("/staff/login")
    response = actions.client.post(
        "/staff/login",
        data={"csrf_token": csrf_token(page.text), "email": email, "password": PASSWORD},
    )
    assert response.status_code == 302
    assert "Staff login: code" in actions.client.get("/staff/login").text
    assert actions.client.get("/staff/").status_code == 302, "the password alone opens nothing"


def test_totp_enrol_login_replay_and_recovery(archive, client):
    clara = make_staff(archive, "clinician")
    actions = StaffActions(client)
    actions.login_as("clinician")
    secret, recovery = enrol_through_the_page(actions)
    assert [e.target for e in events(archive, "second factor enrolled")] == [clara.id]
    with archive.engine.connect() as connection:
        stored = repr(connection.exec_driver_sql("SELECT * FROM staff_recovery_codes").fetchall())
    assert not any(code.replace("-", "") in stored or code in stored for code in recovery)
    actions.logout()

    code_step(actions, EMAILS["clinician"])
    code = pyotp.TOTP(secret).at(archive.clock())
    assert actions.send_code(code).headers["Location"] == "/staff/"
    assert actions.client.get("/staff/").status_code == 200
    actions.logout()

    # The same code again, in the same 30 seconds: refused.
    code_step(actions, EMAILS["clinician"])
    replay = actions.send_code(code)
    assert replay.status_code == 422 and "was used already" in replay.text
    assert actions.client.get("/staff/").status_code == 302
    # A recovery code opens once...
    assert actions.send_code(recovery[0]).headers["Location"] == "/staff/"
    actions.logout()
    code_step(actions, EMAILS["clinician"])
    assert actions.send_code(recovery[0]).status_code == 422, "...and only once"
    assert len(events(archive, "login code failed")) == 2


def test_an_admin_without_a_second_factor_is_sent_to_set_one_up(archive, client):
    admin = Accounts(archive).create(
        email=EMAILS["admin"], name="Ada Admin", role="admin", password=PASSWORD, actor=Actor()
    )
    actions = StaffActions(client)
    actions.login_as("admin")
    for url in ("/staff/accounts", "/staff/audit", "/staff/retention"):
        response = client.get(url)
        assert response.status_code == 302 and response.headers["Location"] == (
            "/staff/me/second-factor"
        ), url
    assert client.get("/staff/").status_code == 200, "the consents stay open"
    enrol_through_the_page(actions)
    assert client.get("/staff/accounts").status_code == 200
    assert Accounts(archive).has_second_factor(admin.id)


def test_the_cli_resets_a_lost_second_factor(intake, archive):
    make_staff(archive, "admin")
    result = intake("staff", "reset-second-factor", "--email", EMAILS["admin"])
    assert result.exit_code == 0 and result.output.endswith("two-step login switched off\n")
    assert not Accounts(archive).has_second_factor(staff_row(archive, EMAILS["admin"]).id)
    missing = intake("staff", "reset-second-factor", "--email", "x@clinic.example")
    assert missing.exit_code == 2


# --- lifetime, cookie, re-authentication, the tablet -----------------------------------------


def test_a_login_ends_after_12_hours_however_active(archive, client, monkeypatch):
    make_staff(archive, "front-desk")
    StaffActions(client).login_as("front-desk")
    for n in range(12 * 6 - 1):  # 11 hours 50 minutes, never idle
        later(archive, monkeypatch, minutes=10)
        assert client.get("/staff/").status_code == 200, n
    later(archive, monkeypatch, minutes=11)
    response = client.get("/staff/")
    assert response.status_code == 302 and response.headers["Location"] == "/staff/login"
    assert "a login lasts 12 hours at most" in client.get("/staff/login").text
    assert len(events(archive, "logoff expired")) == 1


def test_the_cookie_is_host_prefixed_under_https_only():
    assert Config(environ={}).SESSION_COOKIE_NAME == "session"
    https = Config(environ={"PREFERRED_URL_SCHEME": "https"})
    assert https.SESSION_COOKIE_NAME == "__Host-session" and https.SESSION_COOKIE_SECURE


def test_the_host_cookie_is_set_secure_for_the_whole_site(app_config, archive):
    from intake import create_app

    app = create_app(
        {**app_config, "SESSION_COOKIE_NAME": "__Host-session", "SESSION_COOKIE_SECURE": True}
    )
    client = app.test_client()
    page = client.get("/staff/login", base_url="https://localhost")
    cookie = page.headers["Set-Cookie"]
    assert cookie.startswith("__Host-session=") and "Secure" in cookie and "Path=/;" in cookie
    assert "Domain" not in cookie
    app.extensions["archive"].dispose()


def test_account_and_retention_changes_ask_again_after_five_minutes(archive, client, monkeypatch):
    make_staff(archive, "admin")
    frank = make_staff(archive, "front-desk")
    actions = StaffActions(client)
    actions.login_as("admin")
    assert client.get("/staff/accounts/new").status_code == 200
    later(archive, monkeypatch, minutes=6)
    for url in ("/staff/accounts/new", f"/staff/accounts/{frank.id}"):
        response = client.get(url)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/staff/confirm?next=")
    stale = actions.post(f"/staff/accounts/{frank.id}/active", {"state": "off"})
    assert stale.status_code == 302 and "/staff/confirm" in stale.headers["Location"]
    assert staff_row(archive, EMAILS["front-desk"]).active, "nothing changed"
    page = client.get(f"/staff/confirm?next=/staff/accounts/{frank.id}")
    assert 'name="code"' in page.text
    wrong = actions.post(
        "/staff/confirm",
        {"password": PASSWORD, "code": "123456", "next": f"/staff/accounts/{frank.id}"},
    )
    assert wrong.status_code == 422 and "That code is not right" in wrong.text
    from tests.support.staff import next_code

    done = actions.post(
        "/staff/confirm",
        {
            "password": PASSWORD,
            "code": next_code(archive, EMAILS["admin"]),
            "next": f"/staff/accounts/{frank.id}",
        },
    )
    assert done.status_code == 302 and done.headers["Location"] == f"/staff/accounts/{frank.id}"
    assert actions.post(f"/staff/accounts/{frank.id}/active", {"state": "off"}).status_code == 302
    assert not staff_row(archive, EMAILS["front-desk"]).active
    assert len(events(archive, "reauthenticated")) == 1


def test_confirming_never_leads_off_the_site(archive, client):
    make_staff(archive, "front-desk")
    actions = StaffActions(client)
    actions.login_as("front-desk")
    for target in ("https://evil.example/", "//evil.example/staff/", "/staff/\\\\evil"):
        done = actions.post("/staff/confirm", {"password": PASSWORD, "next": target})
        assert done.status_code == 302 and done.headers["Location"] == "/staff/", target


def test_opening_the_tablet_ends_the_staff_login_in_that_browser(archive, client):
    make_staff(archive, "front-desk")
    StaffActions(client).login_as("front-desk")
    assert client.get("/staff/").status_code == 200
    assert client.get(f"/tablet/form/{B12}").status_code == 200
    assert client.get("/staff/").status_code == 302
    assert [e.event for e in events(archive, "logout")] == ["logout"]


def test_the_helper_enrols_admins(archive):
    admin = make_staff(archive, "admin")
    assert EMAILS["admin"] in SECOND_FACTORS and Accounts(archive).has_second_factor(admin.id)
    assert enrol_second_factor  # the same helper enrols any role on demand


def test_a_long_password_is_scored_on_its_first_72_characters(archive):
    long = "a fairly long passphrase that goes on past seventy two characters " * 3
    staff = Accounts(archive).create(
        email="nia@clinic.example", name="Nia", role="clinician", password=long, actor=Actor()
    )
    assert staff.email == "nia@clinic.example"
    with pytest.raises(StaffError) as raised:
        Accounts(archive).create(
            email="noa@clinic.example",
            name="Noa",
            role="clinician",
            password="x" * 1000,
            actor=Actor(),
        )
    assert raised.value.message == GUESSABLE
