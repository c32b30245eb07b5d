"""Staff accounts and logins as one service for the staff pages and the command line.

Each call is one transaction that carries its own audit rows, so neither the views nor the CLI
open a transaction or write to the trail themselves. The rules (passwords, roles, rate limits,
idle logoff) are in `intake.archive.staff`; this is where they meet the database. No Flask here.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.archive import audit, second_factor
from intake.archive import staff as rules
from intake.archive.audit import Actor
from intake.archive.models import Staff, StaffSession, is_id
from intake.archive.staff import LoginPolicy, LoginRefused, SessionCheck, StaffError
from intake.archive.witness import confirm_witness
from intake.email_address import normal_email
from intake.languages import LANGUAGES, N_, Said
from intake.qr import qr_data_uri
from intake.signing import Witness

if TYPE_CHECKING:
    from intake.archive.search import SearchCriteria

#: Why an admin may not change their own role or switch their own account off.
OWN_ACCOUNT = N_(
    "You cannot change the role of your own account or switch it off. Ask another admin."
)
#: Why an admin does not set their own password on the accounts page.
OWN_PASSWORD = N_("Change your own password under My account, with your current password.")
ADMIN_KEEPS_CODES = N_("An admin account needs its second factor. Enrol a new one instead.")
WRONG_ENROLMENT_CODE = N_(
    "is not the code your app shows now. Check the app's clock, then try again."
)


@dataclass(frozen=True)
class Enrolment:
    """A second factor waiting for its first code: what the enrolment page shows."""

    secret: str
    uri: str
    qr: str


class Database(Protocol):
    """What the service needs of the archive: its sessions, its transactions and its clock."""

    clock: Callable[[], datetime]

    def sessions(self) -> AbstractContextManager[Session]: ...

    def transaction(self) -> AbstractContextManager[Session]: ...


class StaffMissing(LookupError):
    """No staff account has the id asked for."""


class Accounts:
    """Staff accounts, their logins and the search each login keeps, over `database`."""

    def __init__(self, database: Database, policy: LoginPolicy | None = None) -> None:
        self.database = database
        self.policy = policy or LoginPolicy()

    # --- accounts ----------------------------------------------------------------------------

    def all(self, *, by_name: bool = False) -> list[Staff]:
        """Every account by email, or by name (then email) as the staff page lists them."""
        order = (Staff.name, Staff.email) if by_name else (Staff.email,)
        with self.database.sessions() as session:
            return list(session.scalars(select(Staff).order_by(*order)))

    def get(self, staff_id: str) -> Staff | None:
        if not is_id(staff_id):
            return None
        with self.database.sessions() as session:
            return session.get(Staff, staff_id)

    def by_email(self, email: str) -> Staff | None:
        with self.database.sessions() as session:
            return session.scalar(select(Staff).where(Staff.email == normal_email(email)))

    def create(self, *, email: str, name: str, role: str, password: str, actor: Actor) -> Staff:
        """A new account, audited; `StaffError` names the field a rule refused."""
        with self.database.transaction() as session:
            return rules.create_staff(
                session, email=email, name=name, role=role, password=password, actor=actor
            )

    def set_language(self, staff_id: str, language: str, actor: Actor) -> None:
        """The language the staff pages speak to this account (one of `LANGUAGES`), audited."""
        if language not in LANGUAGES:
            raise StaffError(
                "language", Said(N_("is not a language of this app: %(code)s"), code=language)
            )
        with self.database.transaction() as session:
            staff = session.get(Staff, staff_id) if is_id(staff_id) else None
            if staff is None:
                raise StaffMissing(staff_id)
            if staff.language != language:
                staff.language = language
                audit.record(session, "staff language changed", actor, staff.id)

    def change(
        self,
        staff_id: str,
        actor: Actor,
        *,
        role: str | None = None,
        active: bool | None = None,
        password: str | None = None,
    ) -> Staff:
        """Change a role, switch an account off or on, or set a new password (see
        `change_staff`). Nobody may change their own role or switch themselves off, so an admin
        cannot lock the clinic out; another admin must do it."""
        if actor.staff_id == staff_id and (role is not None or active is not None):
            raise StaffError("account", OWN_ACCOUNT)
        if actor.staff_id == staff_id and password is not None:
            raise StaffError("account", OWN_PASSWORD)
        with self.database.transaction() as session:
            staff = session.get(Staff, staff_id) if is_id(staff_id) else None
            if staff is None:
                raise StaffMissing(staff_id)
            rules.change_staff(session, staff, actor, role=role, active=active, password=password)
            return staff

    def change_by_email(
        self,
        email: str,
        actor: Actor,
        *,
        role: str | None = None,
        active: bool | None = None,
        password: str | None = None,
    ) -> Staff:
        """`change` for the account with `email`; a `StaffError` when there is none."""
        staff = self.by_email(email)
        if staff is None:
            raise StaffError(
                "email", Said(N_("no staff account has the email %(email)s"), email=email)
            )
        return self.change(staff.id, actor, role=role, active=active, password=password)

    # --- logins ------------------------------------------------------------------------------

    def login(self, email: str, password: str, actor: Actor) -> str:
        """A new login's token, or `LoginRefused` once the failed attempt is in the trail. When
        the account has a second factor, the login opens nothing before `confirm_code`."""
        return self._committing_refusal(
            lambda session: rules.login(session, email, password, actor, self.database.clock())
        )

    def confirm_code(self, token: str | None, code: str, actor: Actor) -> None:
        """The login's second step: a code from the app or a recovery code."""
        self._committing_refusal(
            lambda session: rules.confirm_code(session, token, code, actor, self.database.clock())
        )

    def _committing_refusal(self, attempt: Callable[[Session], Any]) -> Any:
        refused: Exception | None = None
        with self.database.transaction() as session:
            try:
                return attempt(session)
            except (LoginRefused, StaffError) as error:
                # Kept to raise after the commit: a failed attempt counts towards the wait.
                refused = error
        raise refused

    def reauthenticate(self, token: str | None, password: str, code: str, actor: Actor) -> None:
        """The login behind `token` proves again who holds it; `StaffError` names the field."""

        def attempt(session: Session) -> None:
            row = session.get(StaffSession, rules.token_sha256(token)) if token else None
            if row is None or row.ended_at is not None or row.code_due:
                raise StaffError("password", rules.CODE_EXPIRED)
            rules.reauthenticate(session, row, password, code, actor, self.database.clock())

        self._committing_refusal(attempt)

    def change_own_password(self, staff_id: str, current: str, new: str, actor: Actor) -> None:
        """A new password for oneself, given the current one; every login of it ends."""

        def attempt(session: Session) -> None:
            staff = session.get(Staff, staff_id) if is_id(staff_id) else None
            if staff is None:
                raise StaffMissing(staff_id)
            rules.change_own_password(session, staff, current, new, actor, self.database.clock())

        self._committing_refusal(attempt)

    # --- the second factor -------------------------------------------------------------------

    def start_enrolment(self, staff_id: str) -> Enrolment:
        """The secret the enrolment page shows (the same one until a code confirms it)."""
        with self.database.transaction() as session:
            staff = session.get(Staff, staff_id)
            if staff is None:
                raise StaffMissing(staff_id)
            row = second_factor.start(session, staff_id, self.database.clock())
            uri = second_factor.provisioning_uri(row.secret, staff.email)
            return Enrolment(row.secret, uri, qr_data_uri(uri, scale=4))

    def confirm_enrolment(self, staff_id: str, code: str, actor: Actor) -> list[str]:
        """Switch the second factor on with a first code from the app; the ten recovery codes,
        to be shown once. `StaffError` at `code` when it does not match."""
        now = self.database.clock()
        with self.database.transaction() as session:
            row = second_factor.start(session, staff_id, now)
            if not second_factor.accept_code(row, code, now):
                raise StaffError("code", WRONG_ENROLMENT_CODE)
            row.confirmed_at = now
            codes = second_factor.new_recovery_codes(session, staff_id)
            audit.record(session, "second factor enrolled", actor, staff_id, at=now)
            return codes

    def has_second_factor(self, staff_id: str) -> bool:
        with self.database.sessions() as session:
            return second_factor.confirmed(session, staff_id) is not None

    def recovery_codes_left(self, staff_id: str) -> int:
        with self.database.sessions() as session:
            return second_factor.unused_recovery_codes(session, staff_id)

    def remove_second_factor(self, staff_id: str, actor: Actor, *, admin_may: bool = False) -> None:
        """Switch an account's second factor off (the CLI, for a lost phone and lost recovery
        codes: `admin_may`); an admin's own is refused, since admins need one."""
        with self.database.transaction() as session:
            staff = session.get(Staff, staff_id) if is_id(staff_id) else None
            if staff is None:
                raise StaffMissing(staff_id)
            if staff.role == "admin" and not admin_may:
                raise StaffError("account", ADMIN_KEEPS_CODES)
            second_factor.remove(session, staff_id)
            audit.record(session, "second factor removed", actor, staff_id)

    def logout(self, token: str | None, actor: Actor) -> None:
        with self.database.transaction() as session:
            rules.logout(session, token, actor, self.database.clock())

    def check_session(self, token: str | None, actor: Actor) -> SessionCheck:
        """The live login behind `token`, marked used; an idle one is ended (and audited)."""
        with self.database.transaction() as session:
            return rules.check_session(session, token, actor, self.database.clock(), self.policy)

    def hand_to_patient(self, token: str | None, actor: Actor, form_id: str) -> None:
        """End this login as the tablet goes to a patient for `form_id`: the trail records both
        in one transaction, so it never shows a patient session under a login still open."""
        with self.database.transaction() as session:
            audit.record(session, "patient session started", actor, form_id)
            rules.logout(session, token, actor, self.database.clock())

    def remember_search(self, token: str, criteria: SearchCriteria | None) -> None:
        """Keep the search on the login's own row, so no name or birth date goes into a URL."""
        with self.database.transaction() as session:
            row = session.get(StaffSession, rules.token_sha256(token))
            if row is not None:
                row.search = None if criteria is None or criteria.empty else criteria.to_json()

    # --- witnesses ---------------------------------------------------------------------------

    def witness(self, email: str, password: str, code: str, actor: Actor) -> Witness:
        """A staff member present confirms a patient's signature by typed name with their login
        (`confirm_witness`); a failure is committed before `StaffError` is raised."""
        return self._committing_refusal(
            lambda session: confirm_witness(
                session, email, password, code, actor, self.database.clock()
            )
        )
