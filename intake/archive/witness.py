"""A staff member's login as witness of a patient's signature by typed name.

The witness proves who they are exactly as at the login page: their email and password, then the
code from their authenticator app (or a recovery code) when the account has a second factor.
Failures count towards the same waits as failed logins (`throttle`, per account and per address)
and are in the audit trail, so the tablet is no way round the login's limits. No Flask here.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.archive import audit, second_factor, throttle
from intake.archive import staff as rules
from intake.archive.audit import Actor
from intake.archive.models import Staff
from intake.archive.staff import StaffError
from intake.email_address import normal_email
from intake.languages import N_
from intake.signing import Witness

CODE_NEEDED = N_(
    "This account uses two-step login: type the code from its app, or a recovery code."
)


def confirm_witness(
    session: Session, email: str, password: str, code: str, actor: Actor, now: datetime
) -> Witness:
    """The staff member whose login this is, as witness; `StaffError` at `witness_password`
    (or `witness_code`) otherwise. The caller commits in both cases: failures count."""
    staff = session.scalar(select(Staff).where(Staff.email == normal_email(email)))
    target = staff.id if staff is not None else rules.UNKNOWN_TARGET
    account = throttle.hold(session, throttle.account_key(staff.id), now) if staff else None
    address = throttle.hold(session, throttle.address_key(actor.ip), now) if actor.ip else None
    delay = throttle.wait(account, now) if account is not None else None
    if delay is None and address is not None:
        delay = throttle.wait(address, now)
        if delay is not None and account is not None and account.failures == 0:
            delay = None
    if delay is not None:
        audit.record(session, "login delayed", actor, target, at=now)
        raise StaffError("witness_password", rules.too_many(delay))
    if not (rules.password_matches(staff, password) and staff is not None and staff.active):
        for row, limit in ((account, throttle.ACCOUNT), (address, throttle.ADDRESS)):
            if row is not None:
                throttle.fail(row, limit, now)
        audit.record(session, "signature witness refused", actor, target, at=now)
        raise StaffError("witness_password", rules.NO_MATCH)
    assert account is not None
    as_staff = Actor(staff.id, actor.ip, actor.user_agent, actor.tablet_id)
    if second_factor.confirmed(session, staff.id) is not None:
        if not code.strip():
            raise StaffError("witness_code", CODE_NEEDED)
        if not rules._code_holds(session, staff, code, now):
            throttle.fail(account, throttle.ACCOUNT, now)
            audit.record(session, "signature witness refused", as_staff, staff.id, at=now)
            raise StaffError("witness_code", rules.WRONG_CODE)
    throttle.clear(account)
    audit.record(session, "signature witnessed", as_staff, staff.id, at=now)
    return Witness(staff.id, staff.name)
