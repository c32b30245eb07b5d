"""The audit trail: an append-only table where each row carries the SHA-256 of the row before.

Changing, removing or reordering a row breaks the chain at that row, and `verify` names it. The
newest row's hash is also kept in `audit_head`, so even a change to the last row shows. Rows name
staff and consents by id only: no patient data goes into the trail.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from json.encoder import encode_basestring as _json_string  # type: ignore[attr-defined]
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.archive.models import AuditCheckpoint, AuditEvent, AuditHead, utcnow
from intake.progress import NO_PROGRESS, Progress

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


def chained_sha256(row: tuple[Any, ...]) -> str:
    """A row's hash from its columns in `CHAINED`'s order: the SHA-256 of the canonical JSON
    of `[seq, at, staff_id or "", ip, user_agent, event, target, prev_sha256]`. The list is
    spelled here with the json module's own string encoder (what `canonical_json` gives a list
    of one number and strings, byte for byte: tests/test_audit_and_staff.py holds them equal),
    at a third of its cost: it is what a walk of the whole trail spends its time on."""
    seq, at, staff_id, ip, user_agent, event, target, prev_sha256 = row
    # A time without a zone is one read straight from the database, where times are UTC.
    when = at.isoformat() if at.tzinfo is not None else f"{at.isoformat()}+00:00"
    strings = (when, staff_id or "", ip, user_agent, event, target, prev_sha256)
    text = f"[{int(seq)},{','.join(map(_json_string, strings))}]"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


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
    #: Rows 1 to `rows` were checked (all of them, for a full walk).
    rows: int
    #: The first row that does not hold, and why; None when every row checked holds.
    broken_seq: int | None = None
    reason: str = ""
    #: How many rows the trail holds, when fewer were checked (an incremental check stopped
    #: short); None when the check reached the newest row.
    written: int | None = None

    @property
    def holds(self) -> bool:
        return self.broken_seq is None

    @property
    def complete(self) -> bool:
        """Every row written was checked."""
        return self.written is None


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
#: How many rows the walk reads at a time, and tells its progress by.
WALK_PAGE = 5000
#: The whole trail's `CHAINED` columns in order: what both walks read.
WALK_QUERY = (
    f"SELECT {', '.join(column.name for column in CHAINED)} "  # noqa: S608
    f"FROM {AuditEvent.__tablename__} ORDER BY seq"
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
    """The newest row and its hash when every row follows the one before and the newest is the
    head's, else None (`_walk` then says where and why): the same checks as `_walk`, a page of
    rows at a time. A row's hash covers its own columns only (its `prev_sha256` as stored), so
    a page's hashes are made together (`page_hashes`) and the chain is checked by comparing
    the page's `prev_sha256` column with them, as lists."""
    head = session.get(AuditHead, 1)
    driver = session.connection().connection.driver_connection
    # On PostgreSQL a named (server-side) cursor: psycopg's ordinary one receives the whole
    # result when the query runs and holds it to the end of the walk.
    if session.get_bind().dialect.name == "postgresql":
        cursor = driver.cursor(name="audit_chain_walk")  # type: ignore[union-attr]
    else:
        cursor = driver.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(WALK_QUERY)
        expected_seq, expected_prev = 1, GENESIS
        while page := cursor.fetchmany(WALK_PAGE):
            seqs = tuple(row[0] for row in page)
            if seqs != tuple(range(expected_seq, expected_seq + len(page))):
                return None
            hashes = page_hashes(page)
            if [expected_prev, *hashes[:-1]] != [row[7] for row in page]:
                return None
            expected_seq, expected_prev = expected_seq + len(page), hashes[-1]
            progress.advance(len(page))
    finally:
        cursor.close()
    newest = expected_seq - 1
    if head is None or head.seq != newest or head.sha256 != expected_prev:
        return None
    return newest, expected_prev


def page_hashes(page: list[tuple[Any, ...]]) -> list[str]:
    """`chained_sha256` of each row of `page` (columns in `CHAINED`'s order, the time as the
    driver gives it), made together. The rows' JSON lists are spelled with their strings as
    they are, once the whole page shows it may be: every time is SQLite's own
    `YYYY-MM-DD HH:MM:SS.ffffff` (or a datetime), and escaping all the strings at once with
    `_json_string` escapes nothing but the quotes between them. Else each row is hashed by
    `chained_sha256` itself."""
    whens = _iso_times([row[1] for row in page])
    if whens is not None:
        lists = [
            '","'.join((when, staff_id or "", *rest))
            for when, (_, _, staff_id, *rest) in zip(whens, page, strict=True)
        ]
        joined = "".join(lists)
        if len(_json_string(joined)) == len(joined) + 2 + _QUOTES * len(lists):
            texts = [f'[{int(row[0])},"{text}"]' for row, text in zip(page, lists, strict=True)]
            return [hashlib.sha256(text.encode("utf-8")).hexdigest() for text in texts]
    return [chained_sha256((seq, _as_time(at), *rest)) for seq, at, *rest in page]


def _iso_times(times: list[Any]) -> list[str] | None:
    """Each time as `chained_sha256` spells it (a time without a zone is UTC), or None when one
    of them is text in another form than SQLite's own."""
    if not all(isinstance(at, str) for at in times):
        if not all(isinstance(at, datetime) for at in times):
            return None
        return [
            at.isoformat() if at.tzinfo is not None else f"{at.isoformat()}+00:00" for at in times
        ]
    if "".join(times).translate(_DIGITS) != _SQLITE_TIME * len(times):
        return None
    for at in times:  # a date or time out of range is refused here as `_as_time` refuses it
        datetime.fromisoformat(at)
    # `isoformat` leaves out a zero fraction of a second.
    return [
        f"{at[:10]}T{at[11:19]}+00:00" if at.endswith(".000000") else f"{at[:10]}T{at[11:]}+00:00"
        for at in times
    ]


def _as_time(at: Any) -> datetime:
    return at if isinstance(at, datetime) else datetime.fromisoformat(at)


#: The one form SQLite is given times in (SQLAlchemy's), every digit written as 0.
_SQLITE_TIME = "0000-00-00 00:00:00.000000"
_DIGITS = str.maketrans("0123456789", "0" * 10)
#: The quotes between a row's seven strings, each escaped by `_json_string` as two characters.
_QUOTES = 12


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
