"""Renewing the archive's document timestamps (`intake archive timestamp`), so a B-LTA consent
keeps proving itself after its last timestamp authority's certificate expires.

A consent is due when its last timestamp's certificate expires within `within_days`. When each
one expires is kept in `consent_timestamps`, read once from the stored PDF (and again whenever
the PDF's SHA-256 changes), so a run looks up the due ones by index instead of opening every PDF.

Each due consent gets a new revision appended (`ltv.add_archival_timestamp`: the validation data
of its last timestamp, then a new document timestamp). The archive names a PDF by its SHA-256, so
the new revision is a new blob, stored durably first; then one transaction points the row at it
(only if the row still names the old one), records its new expiry and the audit event; only then
is the old blob removed. Killed at any point, the row names a complete PDF: the old, or the new.
A new blob no row names is what `intake archive repair` removes. Run again, it takes up the
consents still due.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update

from intake.archive import audit
from intake.archive.audit import Actor
from intake.archive.blobs import FileBlobs, sha256_of
from intake.archive.models import ARCHIVED, Consent, ConsentTimestamp, utcnow
from intake.archive.service import Archive
from intake.certificates import kept_roots
from intake.pdf import ltv
from intake.progress import NO_PROGRESS, Progress

log = logging.getLogger(__name__)

#: Consents read or renewed per database round trip.
BATCH = 200


@dataclass
class TimestampReport:
    """What a run did: consents read for their expiry, renewed, and those that failed (why)."""

    read: int = 0
    renewed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


def _unread(archive: Archive) -> Iterator[list[tuple[str, str]]]:
    """Archived consents whose expiry is not known for the PDF they name, in batches."""
    after = ""
    while True:
        with archive.sessions() as session:
            rows = session.execute(
                select(Consent.id, Consent.pdf_sha256)
                .outerjoin(ConsentTimestamp, ConsentTimestamp.consent_id == Consent.id)
                .where(
                    Consent.status == ARCHIVED,
                    Consent.pdf_sha256.is_not(None),
                    Consent.id > after,
                    or_(
                        ConsentTimestamp.consent_id.is_(None),
                        ConsentTimestamp.pdf_sha256 != Consent.pdf_sha256,
                    ),
                )
                .order_by(Consent.id)
                .limit(BATCH)
            ).all()
        if not rows:
            return
        yield [(row.id, row.pdf_sha256) for row in rows]
        after = rows[-1].id


def _remember(session, consent_id: str, sha256: str, expires_at: datetime | None) -> None:
    row = session.get(ConsentTimestamp, consent_id)
    if row is None:
        session.add(
            ConsentTimestamp(consent_id=consent_id, pdf_sha256=sha256, expires_at=expires_at)
        )
    else:
        row.pdf_sha256, row.expires_at = sha256, expires_at


def read_expiries(archive: Archive) -> int:
    """Record when the last timestamp of each consent not yet read expires; how many were read."""
    count = 0
    for batch in _unread(archive):
        with archive.transaction() as session:
            for consent_id, sha256 in batch:
                pdf = archive.blobs.get(session, sha256)
                _remember(session, consent_id, sha256, ltv.last_timestamp_expiry(pdf))
        count += len(batch)
    return count


def due(archive: Archive, before: datetime) -> list[tuple[str, str]]:
    """(id, PDF SHA-256) of each archived consent whose last timestamp expires before `before`,
    the soonest first.

    Two lookups, not a join: the expiry index gives the few due rows, then their consents by
    primary key; joined, a planner without statistics walks every archived consent instead.
    """
    with archive.sessions() as session:
        rows = session.execute(
            select(ConsentTimestamp.consent_id, ConsentTimestamp.pdf_sha256)
            .where(ConsentTimestamp.expires_at < before)
            .order_by(ConsentTimestamp.expires_at, ConsentTimestamp.consent_id)
        ).all()
        found: list[tuple[str, str]] = []
        for start in range(0, len(rows), BATCH):
            batch = dict(rows[start : start + BATCH])
            current = dict(
                session.execute(
                    select(Consent.id, Consent.pdf_sha256).where(
                        Consent.id.in_(list(batch)), Consent.status == ARCHIVED
                    )
                ).all()
            )
            found += [(i, sha) for i, sha in batch.items() if current.get(i) == sha]
    return found


def renew_timestamps(
    archive: Archive,
    actor: Actor,
    *,
    tsa_url: str,
    within_days: int,
    progress: Progress = NO_PROGRESS,
    now: datetime | None = None,
) -> TimestampReport:
    """Add a document timestamp to every consent whose last one expires within `within_days`."""
    report = TimestampReport(read=read_expiries(archive))
    roots = kept_roots(archive.settings.certificates_dir)
    todo = due(archive, (now or utcnow()) + timedelta(days=within_days))
    progress.start(len(todo))
    for consent_id, old_sha256 in todo:
        try:
            _renew(archive, actor, consent_id, old_sha256, tsa_url, roots)
            report.renewed.append(consent_id)
        except Exception as error:  # noqa: BLE001 - one consent's failure does not stop the run
            reason = _reason(error)
            log.error("consent %s: its timestamp could not be renewed: %s", consent_id, reason)
            report.failed.append((consent_id, reason))
        progress.advance()
    return report


def _reason(error: Exception) -> str:
    """A failure in words for staff: what pyHanko, the network or storage said."""
    if isinstance(error, OSError):
        return f"{type(error).__name__}: {error.strerror or error}"
    return f"{type(error).__name__}: {error.__cause__ or error}"[:200]


def _renew(
    archive: Archive, actor: Actor, consent_id: str, old_sha256: str, tsa_url: str, roots: list
) -> None:
    with archive.sessions() as session:
        old = archive.blobs.get(session, old_sha256)
    new = ltv.add_archival_timestamp(old, tsa_url, roots)
    new_sha256 = sha256_of(new)
    with archive.transaction() as session:
        archive.blobs.put(session, new)
        won = session.execute(
            update(Consent)
            .where(Consent.id == consent_id, Consent.pdf_sha256 == old_sha256)
            .values(pdf_sha256=new_sha256, pdf_size=len(new))
        ).rowcount
        if not won:
            raise RuntimeError("the consent's PDF changed meanwhile; it is taken up next run")
        _remember(session, consent_id, new_sha256, ltv.last_timestamp_expiry(new))
        audit.record(session, "consent timestamped", actor, consent_id)
        if not isinstance(archive.blobs, FileBlobs) and not _named(session, old_sha256):
            archive.blobs.discard(session, old_sha256)
    if isinstance(archive.blobs, FileBlobs):
        # After the commit: until the row named the new file, the old one was the consent's.
        with archive.sessions() as session:
            if not _named(session, old_sha256):
                archive.blobs.discard(session, old_sha256)


def _named(session, sha256: str) -> bool:
    """Whether any consent still names the stored PDF `sha256`."""
    return (
        session.scalar(select(Consent.id).where(Consent.pdf_sha256 == sha256).limit(1)) is not None
    )
