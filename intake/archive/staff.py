"""Staff accounts, logins and sessions: argon2id passwords, a progressive delay on failures,
a second factor, idle and absolute logoff.

A login makes a server-side session: the browser's cookie holds a random token, the table only
its SHA-256, so logging out (or being logged off after 15 idle minutes, or once the login is
older than its lifetime) ends it for good. Failed logins are audit events and count towards a
wait per account and per address (`throttle`). An account with a second factor (`second_factor`)
gives its code after the password. Each function works in the caller's session;
`accounts.Accounts` gives each its own transaction for the staff pages and the CLI.
"""

from __future__ import annotations

import functools
import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.archive import audit, second_factor, throttle
from intake.archive.audit import Actor
from intake.archive.models import ROLES, Staff, StaffSession, utcnow
from intake.archive.passwords import password_problem
from intake.email_address import is_email_address, normal_email
from intake.languages import N_, Said

IDLE_LIMIT = timedelta(minutes=15)
#: A session's last-activity time is written at most this often (every request would be a write).
TOUCH_EVERY = timedelta(seconds=15)

hasher = PasswordHasher()  # argon2id, the library's recommended parameters


@functools.cache
def _dummy_hash() -> str:
    """Checked when the email names no account, so a wrong email takes as long as a wrong
    password. Made on the first such login, not on import: an argon2id hash takes 64 MiB while
    it is made, and a worker that only takes tablet submissions never needs it."""
    return hasher.hash(secrets.token_hex(16))


class StaffError(ValueError):
    """Bad input for a staff account, naming the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class LoginRefused(Exception):
    def __init__(self, message: str, wait_seconds: int = 0) -> None:
        super().__init__(message)
        self.message = message
        #: How long the next attempt must wait (0: it need not).
        self.wait_seconds = wait_seconds


def role_allows(role: str, needed: str) -> bool:
    """Roles are ordered: each may do what the ones before it may."""
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)


def check_password(password: str, *, user_inputs: tuple[str, ...] = ()) -> None:
    """The password rules of `intake.archive.passwords`, as a `StaffError` at the field."""
    problem = password_problem(password, user_inputs=user_inputs)
    if problem is not None:
        raise StaffError("password", problem)


def create_staff(
    session: Session, *, email: str, name: str, role: str, password: str, actor: Actor
) -> Staff:
    email = normal_email(email)
    if not is_email_address(email):
        raise StaffError("email", N_("is not an email address"))
    name = " ".join(name.split())
    if not name or len(name) > 200:
        raise StaffError("name", N_("is required (at most 200 characters)"))
    if role not in ROLES:
        raise StaffError("role", not_a_role())
    check_password(password, user_inputs=(email, name))
    if session.scalar(select(Staff).where(Staff.email == email)) is not None:
        raise StaffError("email", N_("already has an account (one account per person)"))
    staff = Staff(email=email, name=name, role=role, password_hash=hasher.hash(password))
    session.add(staff)
    session.flush()
    audit.record(session, "staff created", actor, staff.id)
    return staff


def change_staff(
    session: Session,
    staff: Staff,
    actor: Actor,
    *,
    role: str | None = None,
    active: bool | None = None,
    password: str | None = None,
) -> None:
    """Change a role, switch an account off or on, or set a new password; each is audited."""
    if role is not None:
        if role not in ROLES:
            raise StaffError("role", not_a_role())
        staff.role = role
    if password is not None:
        check_password(password, user_inputs=(staff.email, staff.name))
        staff.password_hash = hasher.hash(password)
    if active is not None:
        staff.active = active
    if active is False or password is not None or role is not None:
        # A changed account starts again from the login page everywhere.
        for open_session in session.scalars(
            select(StaffSession).where(
                StaffSession.staff_id == staff.id, StaffSession.ended_at.is_(None)
            )
        ):
            open_session.ended_at = utcnow()
    audit.record(session, "staff changed", actor, staff.id)


#: The audit target of a failed login whose email names no account: nothing of what was typed
#: (it may be a password typed into the wrong field).
UNKNOWN_TARGET = "unknown email"
NO_MATCH = N_("That email and password do not match an active account.")
WRONG_CODE = N_("That code is not right, or was used already. Type the newest code from your app.")
CODE_EXPIRED = N_("The login took too long. Log in again with your password.")
#: How long the code may come after the password.
CODE_TIME = timedelta(minutes=5)


def too_many(delay: timedelta) -> Said:
    return Said(
        N_("Too many failed attempts. Wait %(wait)s, then try again."),
        wait=throttle.wait_shown(delay),
    )


def not_a_role() -> Said:
    return Said(N_("must be one of %(roles)s"), roles=", ".join(ROLES))


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def password_matches(staff: Staff | None, password: str) -> bool:
    """Whether `password` is the account's; a missing account costs one check all the same."""
    try:
        hasher.verify(staff.password_hash if staff else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False
    return staff is not None


def login(session: Session, email: str, password: str, actor: Actor, now: datetime) -> str:
    """Check the password; a new session token on success, `LoginRefused` otherwise. When the
    account has a second factor the login opens nothing until `confirm_code` (`code_due`).

    The caller commits the session in both cases: failures count, and are in the audit trail.
    The account's row of `login_throttles` and the address's are locked first, so parallel
    guesses are checked one after the other against the count.
    """
    email = normal_email(email)
    staff = session.scalar(select(Staff).where(Staff.email == email))
    target = staff.id if staff is not None else UNKNOWN_TARGET
    account = throttle.hold(session, throttle.account_key(staff.id), now) if staff else None
    address = throttle.hold(session, throttle.address_key(actor.ip), now) if actor.ip else None
    delay = throttle.wait(account, now) if account is not None else None
    if delay is None and address is not None:
        # The address's wait is for guessers: a known account with no failures of its own is
        # still checked, so one person's typos never keep a colleague at the same router out.
        delay = throttle.wait(address, now)
        if delay is not None and account is not None and account.failures == 0:
            delay = None
    if delay is not None:
        audit.record(session, "login delayed", actor, target, at=now)
        raise LoginRefused(too_many(delay), math.ceil(delay.total_seconds()))
    if not (password_matches(staff, password) and staff is not None and staff.active):
        if account is not None:
            throttle.fail(account, throttle.ACCOUNT, now)
        if address is not None:
            throttle.fail(address, throttle.ADDRESS, now)
        audit.record(session, "login failed", actor, target, at=now)
        raise LoginRefused(NO_MATCH)
    assert staff is not None and account is not None
    if hasher.check_needs_rehash(staff.password_hash):
        staff.password_hash = hasher.hash(password)
    code_due = second_factor.confirmed(session, staff.id) is not None
    token = secrets.token_urlsafe(32)
    session.add(
        StaffSession(
            token_sha256=token_sha256(token),
            staff_id=staff.id,
            created_at=now,
            last_seen=now,
            authenticated_at=None if code_due else now,
            code_due=code_due,
        )
    )
    if not code_due:
        # With a second factor, the failures are forgotten only once the code is right too.
        throttle.clear(account)
        audit.record(session, "login", _as(staff, actor), staff.id, at=now)
    return token


def _as(staff: Staff, actor: Actor) -> Actor:
    return Actor(staff.id, actor.ip, actor.user_agent)


def _code_holds(session: Session, staff: Staff, code: str, now: datetime) -> bool:
    """Whether `code` is the account's TOTP code (unused) or one of its recovery codes."""
    factor = second_factor.confirmed(session, staff.id)
    if factor is None:
        return False
    return second_factor.accept_code(factor, code, now) or second_factor.use_recovery_code(
        session, staff.id, code, now
    )


def confirm_code(session: Session, token: str | None, code: str, actor: Actor, now: datetime):
    """The second step of a login: the code from the app, or a recovery code. The failures
    count towards the account's wait like wrong passwords; `LoginRefused` says so."""
    row = session.get(StaffSession, token_sha256(token)) if token else None
    if row is None or row.ended_at is not None or not row.code_due:
        raise LoginRefused(CODE_EXPIRED)
    staff = session.get(Staff, row.staff_id)
    if staff is None or not staff.active or now - row.created_at > CODE_TIME:
        row.ended_at = now
        raise LoginRefused(CODE_EXPIRED)
    account = throttle.hold(session, throttle.account_key(staff.id), now)
    delay = throttle.wait(account, now)
    if delay is not None:
        audit.record(session, "login delayed", _as(staff, actor), staff.id, at=now)
        raise LoginRefused(too_many(delay), math.ceil(delay.total_seconds()))
    if not _code_holds(session, staff, code, now):
        throttle.fail(account, throttle.ACCOUNT, now)
        audit.record(session, "login code failed", _as(staff, actor), staff.id, at=now)
        raise LoginRefused(WRONG_CODE)
    throttle.clear(account)
    row.code_due = False
    row.authenticated_at = row.last_seen = now
    audit.record(session, "login", _as(staff, actor), staff.id, at=now)


def reauthenticate(
    session: Session, row: StaffSession, password: str, code: str, actor: Actor, now: datetime
) -> None:
    """Prove again who holds the login `row` (the password, and the code when the account has
    a second factor) before an account or retention change; `StaffError` names the field."""
    staff = session.get(Staff, row.staff_id)
    assert staff is not None
    account = throttle.hold(session, throttle.account_key(staff.id), now)
    delay = throttle.wait(account, now)
    if delay is not None:
        raise StaffError("password", too_many(delay))
    if not password_matches(staff, password):
        throttle.fail(account, throttle.ACCOUNT, now)
        audit.record(session, "reauthentication failed", _as(staff, actor), staff.id, at=now)
        raise StaffError("password", N_("is not your password"))
    if second_factor.confirmed(session, staff.id) and not _code_holds(session, staff, code, now):
        throttle.fail(account, throttle.ACCOUNT, now)
        audit.record(session, "reauthentication failed", _as(staff, actor), staff.id, at=now)
        raise StaffError("code", WRONG_CODE)
    throttle.clear(account)
    row.authenticated_at = now
    audit.record(session, "reauthenticated", _as(staff, actor), staff.id, at=now)


def change_own_password(
    session: Session, staff: Staff, current: str, new: str, actor: Actor, now: datetime
) -> None:
    """A staff member's new password, given their current one (a wrong one counts as a failed
    login); every login of the account ends, this one too."""
    account = throttle.hold(session, throttle.account_key(staff.id), now)
    delay = throttle.wait(account, now)
    if delay is not None:
        raise StaffError("current_password", too_many(delay))
    if not password_matches(staff, current):
        throttle.fail(account, throttle.ACCOUNT, now)
        audit.record(session, "reauthentication failed", actor, staff.id, at=now)
        raise StaffError("current_password", N_("is not your current password"))
    change_staff(session, staff, actor, password=new)


@dataclass(frozen=True)
class LoginPolicy:
    """How long a login lasts, whatever its activity, and how recent its password must be for
    account and retention changes (from the settings)."""

    max_age: timedelta = timedelta(hours=12)
    reauth_after: timedelta = timedelta(minutes=5)


@dataclass(frozen=True)
class SessionCheck:
    staff: Staff | None
    #: True when the session ended just now for being idle too long.
    idled_out: bool = False
    session: StaffSession | None = None
    #: True when the session ended just now for being older than a login may be.
    expired: bool = False
    #: The password was right; the second factor's code is still to come.
    code_due: bool = False
    #: The account has a confirmed second factor.
    has_second_factor: bool = False
    #: The login proved who it is recently enough for account and retention changes.
    recent: bool = False


def _end(row: StaffSession, at: datetime) -> None:
    row.ended_at = at


def check_session(
    session: Session,
    token: str | None,
    actor: Actor,
    now: datetime,
    policy: LoginPolicy = LoginPolicy(),  # noqa: B008
) -> SessionCheck:
    """The staff member a session token belongs to, if it is live; marks it used."""
    if not token:
        return SessionCheck(None)
    row = session.get(StaffSession, token_sha256(token))
    if row is None or row.ended_at is not None:
        return SessionCheck(None)
    staff = session.get(Staff, row.staff_id)
    if staff is None or not staff.active:
        _end(row, now)
        return SessionCheck(None)
    if row.code_due:
        if now - row.created_at > CODE_TIME:
            _end(row, now)
            return SessionCheck(None)
        return SessionCheck(None, session=row, code_due=True)
    if now - row.created_at > policy.max_age:
        _end(row, now)
        audit.record(session, "logoff expired", _as(staff, actor), staff.id, at=now)
        return SessionCheck(None, expired=True)
    if now - row.last_seen > IDLE_LIMIT:
        _end(row, row.last_seen + IDLE_LIMIT)
        audit.record(session, "logoff idle", _as(staff, actor), staff.id, at=now)
        return SessionCheck(None, idled_out=True)
    if now - row.last_seen >= TOUCH_EVERY:
        row.last_seen = now
    proved = row.authenticated_at or row.created_at
    return SessionCheck(
        staff,
        session=row,
        has_second_factor=second_factor.confirmed(session, staff.id) is not None,
        recent=now - proved <= policy.reauth_after,
    )


def logout(session: Session, token: str | None, actor: Actor, now: datetime) -> None:
    if not token:
        return
    row = session.get(StaffSession, token_sha256(token))
    if row is not None and row.ended_at is None:
        row.ended_at = now
        audit.record(session, "logout", actor, row.staff_id, at=now)
