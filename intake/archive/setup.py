"""The first admin's way in: a one-time setup link, made while no staff account exists.

The server prints the link when it starts (its log, and the terminal of `make run`); it holds a
random token and the table only the token's SHA-256. Whoever opens it first makes the first
admin account, and from then on every setup link stops working: there is never an open admin
page. `intake staff create ... --role admin` is the other way in. The browser that makes the
first admin is enrolled as the clinic's first tablet in the same transaction, so a newcomer's
first start leads straight to a working tablet.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import exists, select

from intake.archive import audit
from intake.archive.audit import Actor
from intake.archive.models import SetupToken, Staff
from intake.archive.service import Archive
from intake.archive.staff import create_staff, token_sha256
from intake.archive.tablets import FIRST_TABLET_NAME, Enrolled, enrol_in

#: Where the link leads, below the app's address.
SETUP_PATH = "/staff/setup/"


class SetupLinkSpent(Exception):
    """The link is unknown, used, or a staff account exists already."""


@dataclass(frozen=True)
class FirstStart:
    """The first admin, and the tablet the browser that made it now is."""

    admin: Staff
    tablet: Enrolled


def has_staff(archive: Archive) -> bool:
    with archive.sessions() as session:
        return bool(session.scalar(select(exists().select_from(Staff))))


def issue_setup_token(archive: Archive, actor: Actor) -> str | None:
    """A new setup token while no staff account exists (None once one does). Earlier unused
    tokens keep working until the first admin is made."""
    token = secrets.token_urlsafe(32)
    with archive.transaction() as session:
        if session.scalar(select(exists().select_from(Staff))):
            return None
        session.add(SetupToken(token_sha256=token_sha256(token), created_at=archive.clock()))
        audit.record(session, "setup link issued", actor)
    return token


def setup_token_holds(archive: Archive, token: str) -> bool:
    """Whether `token` would make the first admin now."""
    with archive.sessions() as session:
        return _holds(session, token)


def _holds(session, token: str) -> bool:  # noqa: ANN001
    row = session.get(SetupToken, token_sha256(token)) if 20 <= len(token) <= 100 else None
    if row is None or row.used_at is not None:
        return False
    return not session.scalar(select(exists().select_from(Staff)))


def create_first_admin(
    archive: Archive, token: str, *, email: str, name: str, password: str, actor: Actor
) -> FirstStart:
    """Make the first admin with a setup token, and enrol the browser as the first tablet;
    `SetupLinkSpent` when it cannot, `StaffError` for the account's fields."""
    with archive.transaction() as session:
        # The audit append locks the trail's head first, so two setups at once run one after the
        # other and the second finds the first one's admin.
        audit.record(session, "setup link used", actor)
        if not _holds(session, token):
            raise SetupLinkSpent
        staff = create_staff(
            session, email=email, name=name, role="admin", password=password, actor=actor
        )
        row = session.get(SetupToken, token_sha256(token))
        row.used_at = archive.clock()
        tablet = enrol_in(
            session, FIRST_TABLET_NAME, actor, enrolled_by=staff.id, at=archive.clock()
        )
    return FirstStart(staff, tablet)
