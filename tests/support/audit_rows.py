"""Many audit rows, fast: hashed by the audit writer's own `row_sha256`, inserted in batches."""

from __future__ import annotations

from sqlalchemy import insert, text, update

from intake.archive.audit import row_sha256
from intake.archive.models import AuditEvent, AuditHead, utcnow
from intake.archive.service import Archive

BATCH = 20_000


def seed_audit_rows(archive: Archive, count: int, *, event: str = "consent viewed") -> int:
    """Append `count` chained rows after the newest one (an executemany a batch, one
    transaction); returns the newest row's number."""
    at = utcnow()
    with archive.transaction() as session:
        head = session.get(AuditHead, 1)
        assert head is not None
        seq, prev = head.seq, head.sha256
        while count:
            batch = []
            for _ in range(min(count, BATCH)):
                row = AuditEvent(
                    seq=seq + 1,
                    at=at,
                    staff_id=None,
                    ip="10.0.0.7",
                    user_agent="seeded",
                    event=event,
                    target=f"{seq + 1:032x}",
                    prev_sha256=prev,
                )
                seq, prev = row.seq, row_sha256(row)
                batch.append({c: getattr(row, c) for c in COLUMNS})
            session.execute(insert(AuditEvent), batch)
            count -= len(batch)
        head.seq, head.sha256 = seq, prev
    return seq


COLUMNS = ("seq", "at", "staff_id", "ip", "user_agent", "event", "target", "prev_sha256")


def change_audit_row(archive: Archive, seq: int) -> None:
    """What someone with write access to the database could do: switch the guard off, and
    change one row."""
    with archive.transaction() as db:
        if archive.engine.dialect.name == "sqlite":
            db.execute(text("DROP TRIGGER IF EXISTS audit_events_no_update"))
        else:
            db.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
        db.execute(update(AuditEvent).where(AuditEvent.seq == seq).values(ip="10.9.9.9"))
