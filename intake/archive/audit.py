"""The audit trail: an append-only table where each row carries the SHA-256 of the row before.

Changing, removing or reordering a row breaks the chain at that row, and `verify` names it. The
newest row's hash is also kept in `audit_head`, so even a change to the last row shows. Rows name
staff and consents by id only: no patient data goes into the trail.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.archive.models import AuditEvent, AuditHead, utcnow
from intake.canonical import canonical_json

GENESIS = "0" * 64

#: Every event the trail records.
EVENTS = (
    "consent created",
    "consent archived",
    "consent viewed",
    "consent downloaded",
    "consent reviewed",
    "consent deleted",
    "consents exported",
    "backup made",
    "backup restored",
    "patient session started",
    "login",
    "login failed",
    "logout",
    "logoff idle",
    "staff created",
    "staff changed",
    "setup link issued",
    "setup link used",
    "login delayed",
    "login code failed",
    "logoff expired",
    "reauthenticated",
    "reauthentication failed",
    "second factor enrolled",
    "second factor removed",
    "tablet code issued",
    "tablet enrolled",
    "tablet revoked",
    "device refused",
    "consent voided",
)


@dataclass(frozen=True)
class Actor:
    """Who did something, and from where: a staff member in a browser, a tablet, or the CLI."""

    staff_id: str | None = None
    ip: str = ""
    user_agent: str = ""
    #: The enrolled tablet the request came from, if any (recorded on the consents it takes).
    tablet_id: str | None = None


#: The command line, run by whoever holds the server.
CLI = Actor(user_agent="intake command line")


def row_sha256(row: AuditEvent) -> str:
    fields = [
        row.seq,
        row.at.isoformat(),
        row.staff_id or "",
        row.ip,
        row.user_agent,
        row.event,
        row.target,
        row.prev_sha256,
    ]
    return hashlib.sha256(canonical_json(fields)).hexdigest()


def record(
    session: Session, event: str, actor: Actor, target: str = "", *, at: datetime | None = None
) -> AuditEvent:
    """Append one event in the caller's transaction; it commits (or not) with the change itself."""
    if event not in EVENTS:
        raise ValueError(f"unknown audit event {event!r}")
    head = session.execute(
        select(AuditHead).where(AuditHead.id == 1).with_for_update()
    ).scalar_one()
    row = AuditEvent(
        seq=head.seq + 1,
        at=at or utcnow(),
        staff_id=actor.staff_id,
        ip=actor.ip[:64],
        user_agent=actor.user_agent[:500],
        event=event,
        target=target,
        prev_sha256=head.sha256,
    )
    session.add(row)
    head.seq = row.seq
    head.sha256 = row_sha256(row)
    return row


@dataclass(frozen=True)
class ChainReport:
    rows: int
    #: The first row that does not hold, and why; None when the whole chain holds.
    broken_seq: int | None = None
    reason: str = ""

    @property
    def holds(self) -> bool:
        return self.broken_seq is None


def _rows(session: Session) -> Iterator[AuditEvent]:
    yield from session.scalars(
        select(AuditEvent).order_by(AuditEvent.seq).execution_options(yield_per=1000)
    )


def verify(session: Session) -> ChainReport:
    """Walk the chain from the first row; name the first row that was changed or is missing."""
    expected_prev, expected_seq, count = GENESIS, 1, 0
    previous: AuditEvent | None = None
    for row in _rows(session):
        if row.seq != expected_seq:
            return ChainReport(count, expected_seq, f"row {expected_seq} is missing")
        if row.prev_sha256 != expected_prev:
            if previous is None:
                return ChainReport(count, row.seq, f"row {row.seq} does not start the chain")
            return ChainReport(
                count,
                previous.seq,
                f"row {previous.seq} was changed: its SHA-256 no longer matches the one "
                f"row {row.seq} recorded",
            )
        expected_prev, expected_seq, count = row_sha256(row), row.seq + 1, count + 1
        previous = row
    head = session.get(AuditHead, 1)
    if head is None or head.seq != count:
        return ChainReport(
            count,
            count + 1 if head is None else head.seq,
            f"the trail ends at row {count} but {head.seq if head else '?'} "
            "rows were written: the newest rows were removed",
        )
    if head.sha256 != expected_prev:
        return ChainReport(
            count, count, f"row {count} (the newest) was changed after it was written"
        )
    return ChainReport(count)


def page(session: Session, *, before: int | None = None, limit: int = 50) -> list[AuditEvent]:
    """The trail newest first, `limit` rows older than row `before`."""
    query = select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(limit)
    if before is not None:
        query = query.where(AuditEvent.seq < before)
    return list(session.scalars(query))
