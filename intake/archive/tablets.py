"""The clinic's enrolled tablets: one-time enrolment codes, device credentials, revocation, and
the per-minute limits on new patient sessions and submits. No Flask here.

An admin asks for a code (`issue_code`): short, random, working once for `code_ttl` seconds;
the table keeps its SHA-256. The tablet sends it with a name (`enrol`) and receives a random
token, its credential, which it keeps in a cookie; the table keeps the token's SHA-256 only.
`check` finds the tablet behind a token on every tablet request, so a revoked one is refused at
its next request. Issuing, enrolling, revoking and refusing a device are audit events.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Dialect, Engine, bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable

from intake.archive import audit
from intake.archive.audit import Actor
from intake.archive.models import AuditEvent, RateCount, Tablet, TabletCode
from intake.languages import N_, Said

if TYPE_CHECKING:
    from intake.archive.service import Archive

#: Enrolment codes: letters and digits that cannot be mistaken for one another (no 0/O, 1/I/L).
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
#: 8 of 31 symbols, about 40 bits: beyond guessing within a code's ten minutes.
CODE_LENGTH = 8
NAME_MAX = 60
#: What a tablet enrolled by the first start's setup link is called.
FIRST_TABLET_NAME = "First tablet (setup link)"
#: A refused device is written to the audit trail at most once a minute per address.
REFUSAL_EVERY = timedelta(minutes=1)

NO_CODE = N_("is required: type the code shown on the staff screen.")
BAD_CODE = N_("is not a code that works now: it may be mistyped, used already, or expired.")
NO_NAME = N_("is required, so staff can tell the tablets apart.")
LONG_NAME = Said(N_("can be at most %(num)s characters."), num=NAME_MAX)


class TabletError(ValueError):
    """Bad input for an enrolment, naming the field (`code` or `name`)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class IssuedCode:
    code: str
    expires_at: datetime

    @property
    def grouped(self) -> str:
        """The code as shown on screen, in two groups of four ("ABCD-EFGH")."""
        return f"{self.code[:4]}-{self.code[4:]}"


@dataclass(frozen=True)
class LiveTablet:
    """What a request needs of the enrolled, unrevoked tablet it came from."""

    id: str
    name: str
    last_seen: datetime


#: The live tablet behind a token's SHA-256, three columns (`LiveTablet`).
_LIVE_TABLET = select(
    Tablet.__table__.c.id, Tablet.__table__.c.name, Tablet.__table__.c.last_seen
).where(
    Tablet.__table__.c.token_sha256 == bindparam("token"),
    Tablet.__table__.c.revoked_at.is_(None),
)


@dataclass(frozen=True)
class _Compiled:
    """`_LIVE_TABLET` compiled for one database, with its columns' result processors."""

    sql: str
    params: Callable[[str], Any]
    processors: tuple[Callable[[Any], Any] | None, ...]


#: By database and driver (their parameter styles and result types differ).
_compiled: dict[tuple[str, str], _Compiled] = {}


def _compiled_for(dialect: Dialect) -> _Compiled:
    kind = (dialect.name, dialect.driver)
    if kind not in _compiled:
        compiled = _LIVE_TABLET.compile(dialect=dialect)
        if compiled.positional:
            order = tuple(compiled.positiontup or ())

            def params(token: str) -> Any:
                return tuple(compiled.construct_params({"token": token})[k] for k in order)
        else:

            def params(token: str) -> Any:
                return compiled.construct_params({"token": token})

        processors = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in _LIVE_TABLET.selected_columns
        )
        _compiled[kind] = _Compiled(str(compiled), params, processors)
    return _compiled[kind]


def _read_live_tablet(engine: Engine, token_sha256: str) -> LiveTablet | None:
    """The one read every tablet request makes: the statement compiled once per database and
    run on a pooled connection's own cursor, outside SQLAlchemy's per-execution work (the
    compiled cache's key, the result object; a third of the cost with them). A database
    error comes out as SQLAlchemy's, its parameters hidden, as every other query's does."""
    compiled = _compiled_for(engine.dialect)
    params = compiled.params(token_sha256)
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        try:
            cursor.execute(compiled.sql, params)
            row = cursor.fetchone()
        finally:
            cursor.close()
    except engine.dialect.loaded_dbapi.Error as error:
        raise DBAPIError.instance(
            compiled.sql,
            params,
            error,
            engine.dialect.loaded_dbapi.Error,
            hide_parameters=True,
            dialect=engine.dialect,
        ) from error
    finally:
        connection.close()
    if row is None:
        return None
    return LiveTablet(
        *(
            value if p is None else p(value)
            for p, value in zip(compiled.processors, row, strict=True)
        )
    )


@dataclass(frozen=True)
class Enrolled:
    """A tablet just enrolled, and its token: given to the tablet once, never stored."""

    tablet: Tablet
    token: str


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def normal_code(text: str) -> str:
    """A typed code as issued: case, spaces and hyphens do not matter."""
    return "".join(ch for ch in text.upper() if ch not in " -\t")


class Tablets:
    def __init__(self, archive: Archive, *, code_ttl: float = 600, seen_every: float = 60):
        self.archive = archive
        self.code_ttl = timedelta(seconds=code_ttl)
        self.seen_every = timedelta(seconds=seen_every)

    # --- enrolment -------------------------------------------------------------------------

    def issue_code(self, actor: Actor) -> IssuedCode:
        """A new one-time code, issued by the staff member `actor` names."""
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        now = self.archive.clock()
        with self.archive.transaction() as session:
            session.add(
                TabletCode(
                    code_sha256=sha256(code),
                    issued_by=actor.staff_id,
                    created_at=now,
                    expires_at=now + self.code_ttl,
                )
            )
            audit.record(session, "tablet code issued", actor)
        return IssuedCode(code, now + self.code_ttl)

    def enrol(self, code: str, name: str, actor: Actor) -> Enrolled:
        """Spend a code on a new tablet called `name`. `TabletError` for a missing name, or a
        code that is unknown, used or expired (one message for all three)."""
        name = _tablet_name(name)
        code = normal_code(code)
        if not code:
            raise TabletError("code", NO_CODE)
        now = self.archive.clock()
        with self.archive.transaction() as session:
            row = None
            if len(code) == CODE_LENGTH:
                row = session.scalar(
                    select(TabletCode)
                    .where(TabletCode.code_sha256 == sha256(code))
                    .with_for_update()
                )
            if row is None or row.used_at is not None or row.expires_at <= now:
                raise TabletError("code", BAD_CODE)
            # Only the first of two enrolments with one code changes the row.
            spent = session.execute(
                update(TabletCode)
                .where(TabletCode.code_sha256 == row.code_sha256, TabletCode.used_at.is_(None))
                .values(used_at=now)
            ).rowcount
            if not spent:
                raise TabletError("code", BAD_CODE)
            return self._enrol_in(session, name, actor, enrolled_by=row.issued_by)

    def enrol_directly(self, name: str, actor: Actor, *, enrolled_by: str | None) -> Enrolled:
        """A tablet enrolled without a code: by whoever already holds the way in (the first
        admin's setup link, the command line, a test's helper)."""
        name = _tablet_name(name)
        with self.archive.transaction() as session:
            return self._enrol_in(session, name, actor, enrolled_by=enrolled_by)

    def _enrol_in(
        self, session: Session, name: str, actor: Actor, *, enrolled_by: str | None
    ) -> Enrolled:
        return enrol_in(session, name, actor, enrolled_by=enrolled_by, at=self.archive.clock())

    # --- every request ---------------------------------------------------------------------

    def check(self, token: str | None) -> LiveTablet | None:
        """The live tablet behind a cookie's token, or None (unknown, malformed, revoked): read
        on every request, so a revoked tablet is refused at its next one. Its `last_seen` is
        written when older than `seen_every`, so most requests only read."""
        if not token or not 20 <= len(token) <= 100:
            return None
        tablet = _read_live_tablet(self.archive.engine, sha256(token))
        if tablet is None:
            return None
        now = self.archive.clock()
        if now - tablet.last_seen >= self.seen_every:
            with self.archive.transaction() as session:
                session.execute(
                    update(Tablet)
                    .where(Tablet.id == tablet.id, Tablet.last_seen < now)
                    .values(last_seen=now)
                )
            tablet = LiveTablet(tablet.id, tablet.name, now)
        return tablet

    def refused(self, actor: Actor) -> None:
        """A device that is not an enrolled tablet asked for the tablet flow: audited, at most
        once a minute per address, so a refused device cannot flood the trail."""
        since = self.archive.clock() - REFUSAL_EVERY
        with self.archive.transaction() as session:
            recent = session.scalar(
                select(AuditEvent.seq)
                .where(
                    AuditEvent.event == "device refused",
                    AuditEvent.ip == actor.ip[:64],
                    AuditEvent.at >= since,
                )
                .limit(1)
            )
            if recent is None:
                audit.record(session, "device refused", actor)

    # --- the staff pages -------------------------------------------------------------------

    def all(self) -> list[Tablet]:
        """Every tablet ever enrolled, live ones first, newest first."""
        with self.archive.sessions() as session:
            return list(
                session.scalars(
                    select(Tablet).order_by(
                        Tablet.revoked_at.is_not(None), Tablet.created_at.desc(), Tablet.id
                    )
                )
            )

    def get(self, tablet_id: str | None) -> Tablet | None:
        if not tablet_id:
            return None
        with self.archive.sessions() as session:
            return session.get(Tablet, tablet_id)

    def revoke(self, tablet_id: str, actor: Actor) -> bool:
        """End a tablet's access from its next request. False if it is unknown or revoked."""
        with self.archive.transaction() as session:
            done = session.execute(
                update(Tablet)
                .where(Tablet.id == tablet_id, Tablet.revoked_at.is_(None))
                .values(revoked_at=self.archive.clock(), revoked_by=actor.staff_id)
            ).rowcount
            if done:
                audit.record(session, "tablet revoked", actor, tablet_id)
        return bool(done)

    # --- limits ----------------------------------------------------------------------------

    def over_limit(self, kind: str, limits: list[tuple[str, int]]) -> str | None:
        """Count one `kind` ("session", "submit") for each (key, per-minute limit) and return
        the first key past its limit this minute, or None. Counted with one atomic upsert per
        key, so parallel requests on any app server are each counted; one transaction on a
        Core connection (no ORM session), with the statements made once per database kind."""
        now = self.archive.clock()
        minute = now.replace(second=0, microsecond=0)
        over = None
        with self.archive.engine.begin() as connection:
            count_one, sweep = _rate_statements(connection.dialect.name)
            for key, limit in limits:
                values = {"kind": kind, "key": key[:80], "minute": minute}
                count = connection.execute(count_one, values).scalar_one()
                if count == 1:
                    # The first of a minute: sweep the minutes before the last one.
                    connection.execute(sweep, {"before": minute - timedelta(minutes=1)})
                if count > limit and over is None:
                    over = key
        return over


def enrol_in(
    session: Session, name: str, actor: Actor, *, enrolled_by: str | None, at: datetime
) -> Enrolled:
    """Make a tablet and its token in the caller's transaction (the setup link makes the first
    admin and enrols its browser in one)."""
    token = secrets.token_urlsafe(32)
    tablet = Tablet(
        name=_tablet_name(name),
        token_sha256=sha256(token),
        enrolled_by=enrolled_by,
        created_at=at,
        last_seen=at,
    )
    session.add(tablet)
    session.flush()
    audit.record(session, "tablet enrolled", actor, tablet.id)
    return Enrolled(tablet, token)


def _tablet_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise TabletError("name", NO_NAME)
    if len(name) > NAME_MAX:
        raise TabletError("name", LONG_NAME)
    return name


_RATE_STATEMENTS: dict[str, tuple[Executable, Executable]] = {}


def _rate_statements(dialect_name: str) -> tuple[Executable, Executable]:
    """Add one to a minute's count for (kind, key) and return the new count (an upsert in the
    database's own words); and delete the counts of minutes before `before`."""
    if dialect_name not in _RATE_STATEMENTS:
        dialect = sqlite if dialect_name == "sqlite" else postgresql
        table = RateCount.__table__
        count_one = (
            dialect.insert(table)
            .values(
                kind=bindparam("kind"), key=bindparam("key"), minute=bindparam("minute"), count=1
            )
            .on_conflict_do_update(
                index_elements=["kind", "key", "minute"], set_={"count": table.c.count + 1}
            )
            .returning(table.c.count)
        )
        sweep = delete(table).where(table.c.minute < bindparam("before"))
        _RATE_STATEMENTS[dialect_name] = (count_one, sweep)
    return _RATE_STATEMENTS[dialect_name]
