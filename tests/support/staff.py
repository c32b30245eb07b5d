"""Helpers for the staff page tests: accounts, consents, and a browser that logs in.

Argon2id with its recommended parameters is slow by design; `FAST_HASHER` is argon2id at its
cheapest, so the tests that log in dozens of times stay quick (the module's own hasher is
swapped in by each staff test module).
"""

from __future__ import annotations

import copy
import re
import time
from datetime import timedelta
from typing import Any

import pyotp
from argon2 import PasswordHasher

from intake.archive.accounts import Accounts
from intake.archive.audit import Actor
from intake.archive.models import AuditEvent, SecondFactor, Staff
from intake.archive.service import Archive
from intake.submission import validate_submission
from tests.support.tablet import csrf_token

FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
PASSWORD = "correct horse battery staple"
EMAILS = {
    "front-desk": "frank@clinic.example",
    "clinician": "clara@clinic.example",
    "admin": "ada@clinic.example",
}
NAMES = {"front-desk": "Frank Desk", "clinician": "Clara Clinician", "admin": "Ada Admin"}


#: The second factor of each account `enrol_second_factor` set up, by email: its TOTP secret
#: and the recovery codes not used yet.
SECOND_FACTORS: dict[str, tuple[str, list[str]]] = {}


def make_staff(archive: Archive, role: str, email: str | None = None, name: str | None = None):
    """An account with `PASSWORD`; an admin also gets a second factor (admin pages need one),
    which `StaffActions.login` answers by itself."""
    staff = Accounts(archive).create(
        email=email or EMAILS[role],
        name=name or NAMES[role],
        role=role,
        password=PASSWORD,
        actor=Actor(),
    )
    if role == "admin":
        enrol_second_factor(archive, staff)
    return staff


def previous_step_code(archive: Archive, totp: pyotp.TOTP, margin: float = 8.0) -> str:
    """The code of the step before now, taken at least `margin` seconds before the step ends:
    a code of the step before the step before is refused, so a step that ends while the code is
    on its way would refuse it."""
    left = totp.interval - archive.clock().timestamp() % totp.interval
    if left < margin:
        time.sleep(left + 0.1)
    return totp.at(archive.clock() - timedelta(seconds=totp.interval))


def enrol_second_factor(archive: Archive, staff: Staff) -> str:
    """Enrol a TOTP second factor through the service, as the enrolment page does; its secret."""
    accounts = Accounts(archive)
    secret = accounts.start_enrolment(staff.id).secret
    totp = pyotp.TOTP(secret)
    # The step before now: the logins that follow still have now and the next step to use.
    codes = accounts.confirm_enrolment(staff.id, previous_step_code(archive, totp), Actor())
    SECOND_FACTORS[staff.email] = (secret, codes)
    return secret


def next_code(archive: Archive, email: str) -> str:
    """A code the account has not used: its TOTP code of a step not used yet, else (after
    three logins in one 30-second step) one of its recovery codes."""
    secret, recovery = SECOND_FACTORS[email]
    with archive.sessions() as db:
        staff = db.query(Staff).filter(Staff.email == email).one()
        last = db.get(SecondFactor, staff.id).last_step
    totp = pyotp.TOTP(secret)
    now_step = totp.timecode(archive.clock())
    for step in (now_step - 1, now_step, now_step + 1):
        if last is None or step > last:
            return totp.generate_otp(step)
    return recovery.pop()


def patient(
    demo_data: dict[str, Any],
    name: str,
    *,
    born: str | None = None,
    signed_at: str | None = None,
    flagged: bool = True,
) -> dict[str, Any]:
    """The demo submission for another patient (flagged: the demo's two "yes" answers)."""
    data = copy.deepcopy(demo_data)
    data["patient"]["legal_name"] = name
    data["patient"]["preferred_name"] = ""
    data["signature"]["typed_name"] = name
    if born:
        data["patient"]["date_of_birth"] = born
    if signed_at:
        data["signed_at"] = signed_at
    if not flagged:
        data["screening"] = {key: False for key in data["screening"]}
    return data


def add_consent(archive: Archive, data: dict[str, Any], *, seal: bool = True) -> str:
    """A consent in the archive: sealed (`submit`), or left pending (`accept`, much quicker)."""
    submission = validate_submission(data, archive.catalog)
    if seal:
        return archive.submit(submission, Actor())
    return archive.accept(submission, Actor())


def events(archive: Archive, event: str) -> list[AuditEvent]:
    with archive.sessions() as db:
        return list(db.query(AuditEvent).filter(AuditEvent.event == event).order_by(AuditEvent.seq))


def staff_row(archive: Archive, email: str) -> Staff:
    with archive.sessions() as db:
        return db.query(Staff).filter(Staff.email == email).one()


def session_of(app, client) -> dict[str, Any]:
    """What the Flask session cookie holds, decoded."""
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    if cookie is None:
        return {}
    return app.session_interface.get_signing_serializer(app).loads(cookie.value)


def links(html: str) -> list[str]:
    """Every address a page points at: links, form actions, frames, scripts, styles."""
    return re.findall(r'(?:href|action|src|data)="([^"]*)"', html)


class StaffActions:
    """A browser at the front desk: logs in and posts forms with the page's CSRF token."""

    def __init__(self, client) -> None:
        self.client = client

    def login(self, email: str, password: str = PASSWORD):
        """The login form; when the account has a second factor `enrol_second_factor` made,
        its code step too (the password's response is returned when it asks for none)."""
        page = self.client.get("/staff/login")
        fields = {"csrf_token": csrf_token(page.text), "email": email, "password": password}
        response = self.client.post("/staff/login", data=fields)
        if response.status_code != 302 or email not in SECOND_FACTORS:
            return response
        step = self.client.get("/staff/login")
        if "Staff login: code" not in step.text:
            return response
        return self.send_code(next_code(self.client.application.extensions["archive"], email))

    def send_code(self, code: str):
        page = self.client.get("/staff/login")
        return self.client.post(
            "/staff/login", data={"csrf_token": csrf_token(page.text), "code": code}
        )

    def login_as(self, role: str):
        response = self.login(EMAILS[role])
        assert response.status_code == 302 and response.headers["Location"] == "/staff/", (
            response.text
        )
        return response

    def token(self) -> str:
        """A CSRF token for this browser's session (from the login page, or the page it
        forwards a logged-in browser to)."""
        return csrf_token(self.client.get("/staff/login", follow_redirects=True).text)

    def post(self, path: str, fields: dict[str, Any] | None = None, **kwargs: Any):
        return self.client.post(path, data={"csrf_token": self.token(), **(fields or {})}, **kwargs)

    def search(self, **fields: Any):
        return self.post("/staff/search", fields)

    def logout(self):
        return self.post("/staff/logout")
