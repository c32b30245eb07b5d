"""The audit trail: an append-only table where each row carries the SHA-256 of the row before.

Changing, removing or reordering a row breaks the chain at that row, and `verify` names it. The
newest row's hash is also kept in `audit_head`, so even a change to the last row shows. Rows name
staff and consents by id only: no patient data goes into the trail.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.archive.audit_chain import (
    GENESIS,
    WALK_PAGE,
    WALK_QUERY,
    ChainReport,
    chain_holds,
    chained_sha256,
    page_hashes,
)
from intake.archive.models import AuditCheckpoint, AuditEvent, AuditHead, utcnow
from intake.progress import NO_PROGRESS, Progress

__all__ = ["GENESIS", "WALK_PAGE", "WALK_QUERY", "ChainReport", "chained_sha256", "page_hashes"]

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
    "record created",
    "record archived",
    "record downloaded",
    "visit started",
    "visit checked in",
    "visit cancelled",
    "visit reviewed",
    "patient viewed",
    "patients merged",
    "patients kept apart",
    "consent withdrawn",
    "consent timestamped",
    "lot added",
    "lot recalled",
    "injection recorded",
    "injection corrected",
    "injection interval overridden",
    "injection refused",
    "signature witnessed",
    "signature witness refused",
    "translation reviewed",
    "withdrawal started",
    "withdrawal signed",
    "withdrawal cancelled",
    "patient erased",
    "staff language changed",
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
    return chained_sha256(
        (row.seq, row.at, row.staff_id, row.ip, row.user_agent, row.event, row.target,
         row.prev_sha256)
    )  # fmt: skip


#: The chain's head, locked until the transaction ends; built once (every write reads it).
_HEAD = select(AuditHead).where(AuditHead.id == 1).with_for_update()


def record(
    session: Session, event: str, actor: Actor, target: str = "", *, at: datetime | None = None
) -> AuditEvent:
    """Append one event in the caller's transaction; it commits (or not) with the change itself."""
    if event not in EVENTS:
        raise ValueError(f"unknown audit event {event!r}")
    # Nothing pending changes the head but `record` itself, which changes the object read here:
    # the rows waiting go in with the event's own, at the next flush.
    with session.no_autoflush:
        head = session.execute(_HEAD).scalar_one()
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


#: The columns a row's hash is made of, read as plain rows (not ORM objects: a walk of the
#: whole trail then costs about what reading the table does).
CHAINED = (
    AuditEvent.seq,
    AuditEvent.at,
    AuditEvent.staff_id,
    AuditEvent.ip,
    AuditEvent.user_agent,
    AuditEvent.event,
    AuditEvent.target,
    AuditEvent.prev_sha256,
)


class _Row(NamedTuple):
    seq: int
    at: datetime
    staff_id: str | None
    ip: str
    user_agent: str
    event: str
    target: str
    prev_sha256: str


def _rows(session: Session, progress: Progress = NO_PROGRESS) -> Iterator[tuple[_Row, str]]:
    """Every row, in order, with its hash. Read with the database driver's own cursor, a page
    at a time, the time as the database keeps it (UTC, without a zone; SQLite hands it as
    text): the ORM's and SQLAlchemy's row handling cost more than the read itself. On
    PostgreSQL the cursor is a server-side one (`stream_results`): psycopg's ordinary cursor
    receives the whole result when the query runs, some 300 bytes a row held to the end."""
    result = session.connection().exec_driver_sql(
        WALK_QUERY, execution_options={"stream_results": True}
    )
    while page := result.fetchmany(WALK_PAGE):
        for seq, at, *rest in page:
            if not isinstance(at, datetime):
                at = datetime.fromisoformat(at)
            row = _Row(seq, at, *rest)
            yield row, chained_sha256(row)
        progress.advance(len(page))


def _hashed(rows: Iterable[AuditEvent]) -> Iterator[tuple[AuditEvent, str]]:
    for row in rows:
        yield row, row_sha256(row)


def verify(session: Session, progress: Progress = NO_PROGRESS) -> ChainReport:
    """Walk the chain from the first row; name the first row that was changed or is missing."""
    return _verify(session, progress)[0]


def verify_and_keep(session: Session, progress: Progress = NO_PROGRESS) -> ChainReport:
    """`verify`, then keep how far the chain holds as the checkpoint the staff page extends (a
    break found here moves it back, so the page shows the break too). `progress` counts rows."""
    head = session.get(AuditHead, 1)
    progress.start(head.seq if head else 0)
    report, good_seq, good_sha256 = _verify(session, progress)
    _keep(session, good_seq, good_sha256)
    return report


def _verify(session: Session, progress: Progress) -> tuple[ChainReport, int, str]:
    """The whole chain's walk: `_chain_holds` first, the plain walk (`_walk`) for the report
    of a chain that does not hold."""
    held = _chain_holds(session, progress)
    if held is not None:
        return ChainReport(held[0]), *held
    return _walk(session, _rows(session), 0, GENESIS, None)


def _chain_holds(session: Session, progress: Progress) -> tuple[int, str] | None:
    """`audit_chain.chain_holds` on the session's own connection: the newest row and its hash
    when the whole chain holds, else None (`_walk` then says where and why)."""
    head = session.get(AuditHead, 1)
    driver = session.connection().connection.driver_connection
    # On PostgreSQL a named (server-side) cursor: psycopg's ordinary one receives the whole
    # result when the query runs and holds it to the end of the walk.
    if session.get_bind().dialect.name == "postgresql":
        cursor = driver.cursor(name="audit_chain_walk")  # type: ignore[union-attr]
    else:
        cursor = driver.cursor()  # type: ignore[union-attr]
    try:
        return chain_holds(cursor, (head.seq, head.sha256) if head else None, progress, WALK_PAGE)
    finally:
        cursor.close()


def check_since_checkpoint(session: Session, limit: int) -> ChainReport:
    """Extend the kept checkpoint by at most `limit` rows and keep the new one: a bounded amount
    of work that says how far the chain was checked. Rows at or before the checkpoint are not
    walked again (a change there is for `verify`), except the checkpoint's own row."""
    head = session.get(AuditHead, 1)
    written = head.seq if head else 0
    checkpoint = session.get(AuditCheckpoint, 1)
    start_seq, start_sha256 = (checkpoint.seq, checkpoint.sha256) if checkpoint else (0, GENESIS)
    if start_seq > written:
        reason = f"the trail ends at row {written} but row {start_seq} was checked before"
        return ChainReport(0, written + 1, reason + ": the newest rows were removed")
    if start_seq:
        kept = session.get(AuditEvent, start_seq)
        if kept is None or row_sha256(kept) != start_sha256:
            reason = f"row {start_seq} was changed after it was checked"
            return ChainReport(start_seq - 1, start_seq, reason)
    # Only rows the head already counted: one appended since it was read is for the next view.
    newer = (AuditEvent.seq > start_seq) & (AuditEvent.seq <= written)
    rows = session.scalars(
        select(AuditEvent).where(newer).order_by(AuditEvent.seq).limit(limit)
    ).all()
    last = rows[-1].seq if rows else start_seq
    stop = None if len(rows) < limit or last >= written else last
    report, good_seq, good_sha256 = _walk(session, _hashed(rows), start_seq, start_sha256, stop)
    if report.holds and good_seq > start_seq:
        _keep(session, good_seq, good_sha256)
    return report


def _walk(
    session: Session,
    rows: Iterator[tuple[Any, str]],
    start_seq: int,
    start_sha256: str,
    stop: int | None,
) -> tuple[ChainReport, int, str]:
    """Check `rows` (each with its hash) follow row `start_seq` (of hash `start_sha256`); with
    `stop`, the walk ends there short of the newest row, else it is held against `audit_head`.
    Returns the report and the last row known to hold with its hash."""
    expected_prev, expected_seq, count = start_sha256, start_seq + 1, start_seq
    previous: Any = None
    for row, sha256 in rows:
        if row.seq != expected_seq:
            report = ChainReport(count, expected_seq, f"row {expected_seq} is missing")
            return report, count, expected_prev
        if row.prev_sha256 != expected_prev:
            if previous is None:
                if start_seq:
                    reason = f"row {row.seq} does not follow row {start_seq} as it was checked"
                    return ChainReport(count, row.seq, reason), start_seq, start_sha256
                reason = f"row {row.seq} does not start the chain"
                return ChainReport(count, row.seq, reason), start_seq, start_sha256
            report = ChainReport(
                count,
                previous.seq,
                f"row {previous.seq} was changed: its SHA-256 no longer matches the one "
                f"row {row.seq} recorded",
            )
            return report, previous.seq - 1, previous.prev_sha256
        expected_prev, expected_seq, count = sha256, row.seq + 1, count + 1
        previous = row
    if stop is not None:
        head = session.get(AuditHead, 1)
        return ChainReport(count, written=head.seq if head else None), count, expected_prev
    head = session.get(AuditHead, 1)
    if head is None or head.seq != count:
        report = ChainReport(
            count,
            count + 1 if head is None else head.seq,
            f"the trail ends at row {count} but {head.seq if head else '?'} "
            "rows were written: the newest rows were removed",
        )
        return report, count, expected_prev
    if head.sha256 != expected_prev:
        report = ChainReport(
            count, count, f"row {count} (the newest) was changed after it was written"
        )
        good = (count - 1, previous.prev_sha256) if previous else (start_seq, start_sha256)
        return (report, *good)
    return ChainReport(count), count, expected_prev


def _keep(session: Session, seq: int, sha256: str) -> None:
    checkpoint = session.get(AuditCheckpoint, 1)
    if checkpoint is None:
        session.add(AuditCheckpoint(id=1, seq=seq, sha256=sha256))
    else:
        checkpoint.seq, checkpoint.sha256 = seq, sha256


def page(session: Session, *, before: int | None = None, limit: int = 50) -> list[AuditEvent]:
    """The trail newest first, `limit` rows older than row `before`."""
    query = select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(limit)
    if before is not None:
        query = query.where(AuditEvent.seq < before)
    return list(session.scalars(query))
