"""How long a consent is kept: the retention setting's years after signing, or, for a minor,
until they turn `MINOR_RETAINED_UNTIL_AGE` plus those years; and never less than those years
after its patient's last entry (a later consent, visit, injection or withdrawal), since a
course's later records rely on it. Past that, it may be deleted. No Flask here:
`Archive.retained_until`, `Archive.due` and `Archive.delete` call these."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Select, and_, delete, or_, select, update
from sqlalchemy.orm import Session

from intake.archive import audit
from intake.archive.audit import Actor
from intake.archive.blobs import DatabaseBlobs, FileBlobs
from intake.archive.course_models import Patient
from intake.archive.errors import ArchiveError
from intake.archive.models import DELETED, Consent, ConsentName, Review
from intake.archive.patient_erasure import erase_if_last
from intake.languages import N_, Said

if TYPE_CHECKING:
    from intake.archive.service import Archive

#: A minor's consent is kept until they turn this old, plus the retention setting.
MINOR_RETAINED_UNTIL_AGE = 21


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year + years, day=28)


def retained_until(consent: Consent, years: int, last_entry_on: date | None = None) -> date:
    """The last day `consent` must be kept, with a retention setting of `years`, its patient's
    last entry having been on `last_entry_on`."""
    if consent.is_minor and consent.date_of_birth:
        until = add_years(consent.date_of_birth, MINOR_RETAINED_UNTIL_AGE + years)
    else:
        until = add_years(consent.signed_on, years)
    if last_entry_on is not None:
        until = max(until, add_years(last_entry_on, years))
    return until


def last_entry_on(session: Session, consent: Consent) -> date | None:
    if consent.patient_id is None:
        return None
    return session.scalar(select(Patient.last_entry_on).where(Patient.id == consent.patient_id))


def kept_until(archive: Archive, consent: Consent) -> date:
    """`retained_until` with the archive's setting and the patient's last entry."""
    with archive.sessions() as session:
        last = last_entry_on(session, consent)
    return retained_until(consent, archive.settings.retention_years, last)


def check_deletable(consent: Consent, years: int, today: date, last: date | None = None) -> None:
    """Raise `ArchiveError` unless `consent` is past retention on `today`."""
    until = retained_until(consent, years, last)
    if until >= today:
        raise ArchiveError(Said(N_("This consent must be kept until %(day)s."), day=until))


def due_query(today: date, years: int, *, limit: int | None = None) -> Select[tuple[Consent]]:
    """Consents past retention on `today`, oldest first (the same rule as `retained_until`)."""
    adult_cutoff = add_years(today, -years)
    minor_cutoff = add_years(today, -(MINOR_RETAINED_UNTIL_AGE + years))
    return (
        select(Consent)
        .outerjoin(Patient, Patient.id == Consent.patient_id)
        .where(
            Consent.status != DELETED,
            or_(
                and_(Consent.is_minor.is_(False), Consent.signed_on < adult_cutoff),
                and_(Consent.is_minor.is_(True), Consent.date_of_birth < minor_cutoff),
            ),
            or_(Patient.id.is_(None), Patient.last_entry_on < adult_cutoff),
        )
        .order_by(Consent.signed_on, Consent.id)
        .limit(limit)
    )


def erase(session: Session, consent_id: str, at: datetime) -> None:
    """What deleting a consent removes: its patient data, submission, PDF's name, reviews and
    name words. The row stays as `deleted`, so its id and audit events still name it."""
    session.execute(delete(Review).where(Review.consent_id == consent_id))
    session.execute(delete(ConsentName).where(ConsentName.consent_id == consent_id))
    session.execute(
        update(Consent)
        .where(Consent.id == consent_id)
        .values(
            status=DELETED,
            legal_name="",
            date_of_birth=None,
            submission_json=None,
            pdf_sha256=None,
            pdf_size=None,
            needs_review=False,
            deleted_at=at,
        )
    )


def due(archive: Archive, today: date, limit: int | None) -> list[Consent]:
    query = due_query(today, archive.settings.retention_years, limit=limit)
    with archive.sessions() as session:
        return list(session.scalars(query))


def delete_consent(archive: Archive, consent_id: str, actor: Actor, today: date) -> None:
    """Delete a consent past retention: its data, PDF and reviews; the id and audit stay. With
    the patient's last kept consent go the patient's details and course records."""
    consent = archive.get(consent_id)
    with archive.sessions() as session:
        last = last_entry_on(session, consent)
    check_deletable(consent, archive.settings.retention_years, today, last)
    blobs = archive.blobs
    at = archive.clock()
    with archive.transaction() as session:
        erase(session, consent_id, at)
        # The patient's last consent takes their details with it (`patient_erasure`); the
        # consent's own deletion is the transaction's last event.
        unnamed = [consent.pdf_sha256] if consent.pdf_sha256 else []
        unnamed += erase_if_last(session, consent.patient_id, at, actor)
        audit.record(session, "consent deleted", actor, consent_id)
        if isinstance(blobs, DatabaseBlobs):
            for sha256 in unnamed:
                if not archive._named(session, sha256):
                    blobs.discard(session, sha256)
    if isinstance(blobs, FileBlobs):
        with archive.sessions() as session:
            for sha256 in unnamed:
                if not archive._named(session, sha256):
                    blobs.discard(session, sha256)
    if archive.engine.dialect.name == "sqlite":
        # The write-ahead log still holds the pages as they were: fold it into the (zeroed)
        # file and empty it. Best effort: a reader still open keeps it until the next one.
        raw = archive.engine.raw_connection()
        try:
            raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        finally:
            raw.close()
