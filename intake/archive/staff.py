"""Staff accounts, logins and sessions: argon2id passwords, rate-limited login, idle logoff.

A login makes a server-side session: the browser's cookie holds a random token, the table only
its SHA-256, so logging out (or being logged off after 15 idle minutes) ends it for good. Failed
logins are audit events; five for one account, or from one IP address, within 15 minutes make
the next attempt wait. Each function works in the caller's session; `accounts.Accounts` gives
each its own transaction for the staff pages and the CLI.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from intake.archive import audit
from intake.archive.audit import Actor
from intake.archive.models import ROLES, AuditEvent, Staff, StaffSession, utcnow
from intake.email_address import is_email_address, normal_email

MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
IDLE_LIMIT = timedelta(minutes=15)
#: A session's last-activity time is written at most this often (every request would be a write).
TOUCH_EVERY = timedelta(seconds=15)
PASSWORD_MIN = 12
PASSWORD_MAX = 1000

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
    def __init__(self, message: str, wait_minutes: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.wait_minutes = wait_minutes


def role_allows(role: str, needed: str) -> bool:
    """Roles are ordered: each may do what the ones before it may."""
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)


def check_password(password: str) -> None:
    if len(password) < PASSWORD_MIN:
        raise StaffError("password", f"must be at least {PASSWORD_MIN} characters")
    if len(password) > PASSWORD_MAX:
        raise StaffError("password", f"must be at most {PASSWORD_MAX} characters")


def create_staff(
    session: Session, *, email: str, name: str, role: str, password: str, actor: Actor
) -> Staff:
    email = normal_email(email)
    if not is_email_address(email):
        raise StaffError("email", "is not an email address")
    name = " ".join(name.split())
    if not name or len(name) > 200:
        raise StaffError("name", "is required (at most 200 characters)")
    if role not in ROLES:
        raise StaffError("role", f"must be one of {', '.join(ROLES)}")
    check_password(password)
    if session.scalar(select(Staff).where(Staff.email == email)) is not None:
        raise StaffError("email", "already has an account (one account per person)")
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
            raise StaffError("role", f"must be one of {', '.join(ROLES)}")
        staff.role = role
    if password is not None:
        check_password(password)
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


def _failure_target(email: str, staff: Staff | None) -> str:
    """The audit target of a failed login: the account, or a hash of an unknown email."""
    if staff is not None:
        return staff.id
    return "unknown " + hashlib.sha256(email.encode()).hexdigest()[:32]


def _wait(session: Session, column, value: str, now: datetime) -> timedelta | None:  # noqa: ANN001
    since = now - FAILURE_WINDOW
    count, oldest = session.execute(
        select(func.count(), func.min(AuditEvent.at)).where(
            AuditEvent.event == "login failed", column == value, AuditEvent.at > since
        )
    ).one()
    if count < MAX_FAILURES or oldest is None:
        return None
    oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=now.tzinfo)
    return oldest + FAILURE_WINDOW - now


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def login(session: Session, email: str, password: str, actor: Actor, now: datetime) -> str:
    """Check the password; a new session token on success, `LoginRefused` otherwise.

    The caller commits the session in both cases (a failure is recorded in the audit trail).
    """
    email = normal_email(email)
    staff = session.scalar(select(Staff).where(Staff.email == email))
    target = _failure_target(email, staff)
    waits = [
        wait
        for wait in (
            _wait(session, AuditEvent.target, target, now),
            _wait(session, AuditEvent.ip, actor.ip, now) if actor.ip else None,
        )
        if wait is not None
    ]
    if waits:
        minutes = max(1, -(-int(max(waits).total_seconds()) // 60))
        raise LoginRefused(
            f"Too many failed logins. Wait {minutes} minute{'s' if minutes != 1 else ''}, "
            "then try again.",
            minutes,
        )
    try:
        hasher.verify(staff.password_hash if staff else _dummy_hash(), password)
        ok = staff is not None and staff.active
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok:
        audit.record(session, "login failed", actor, target, at=now)
        raise LoginRefused("That email and password do not match an active account.")
    assert staff is not None
    if hasher.check_needs_rehash(staff.password_hash):
        staff.password_hash = hasher.hash(password)
    token = secrets.token_urlsafe(32)
    session.add(
        StaffSession(
            token_sha256=token_sha256(token), staff_id=staff.id, created_at=now, last_seen=now
        )
    )
    audit.record(session, "login", Actor(staff.id, actor.ip, actor.user_agent), staff.id, at=now)
    return token


@dataclass(frozen=True)
class SessionCheck:
    staff: Staff | None
    #: True when the session ended just now for being idle too long.
    idled_out: bool = False
    session: StaffSession | None = None


def check_session(session: Session, token: str | None, actor: Actor, now: datetime) -> SessionCheck:
    """The staff member a session token belongs to, if it is live; marks it used."""
    if not token:
        return SessionCheck(None)
    row = session.get(StaffSession, token_sha256(token))
    if row is None or row.ended_at is not None:
        return SessionCheck(None)
    staff = session.get(Staff, row.staff_id)
    if staff is None or not staff.active:
        row.ended_at = now
        return SessionCheck(None)
    if now - row.last_seen > IDLE_LIMIT:
        row.ended_at = row.last_seen + IDLE_LIMIT
        audit.record(
            session, "logoff idle", Actor(staff.id, actor.ip, actor.user_agent), staff.id, at=now
        )
        return SessionCheck(None, idled_out=True)
    if now - row.last_seen >= TOUCH_EVERY:
        row.last_seen = now
    return SessionCheck(staff, session=row)


def logout(session: Session, token: str | None, actor: Actor, now: datetime) -> None:
    if not token:
        return
    row = session.get(StaffSession, token_sha256(token))
    if row is not None and row.ended_at is None:
        row.ended_at = now
        audit.record(session, "logout", actor, row.staff_id, at=now)
