"""How long a consent is kept: the retention setting's years after signing, or, for a minor,
until they turn `MINOR_RETAINED_UNTIL_AGE` plus those years. Past that, it may be deleted."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Select, and_, delete, or_, select, update
from sqlalchemy.orm import Session

from intake.archive.errors import ArchiveError
from intake.archive.models import DELETED, Consent, ConsentName, Review

#: A minor's consent is kept until they turn this old, plus the retention setting.
MINOR_RETAINED_UNTIL_AGE = 21


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year + years, day=28)


def retained_until(consent: Consent, years: int) -> date:
    """The last day `consent` must be kept, with a retention setting of `years`."""
    if consent.is_minor and consent.date_of_birth:
        return add_years(consent.date_of_birth, MINOR_RETAINED_UNTIL_AGE + years)
    return add_years(consent.signed_on, years)


def check_deletable(consent: Consent, years: int, today: date) -> None:
    """Raise `ArchiveError` unless `consent` is past retention on `today`."""
    until = retained_until(consent, years)
    if until >= today:
        raise ArchiveError(f"This consent must be kept until {until.isoformat()}.")


def due_query(today: date, years: int, *, limit: int | None = None) -> Select[tuple[Consent]]:
    """Consents past retention on `today`, oldest first (the same rule as `retained_until`)."""
    adult_cutoff = add_years(today, -years)
    minor_cutoff = add_years(today, -(MINOR_RETAINED_UNTIL_AGE + years))
    return (
        select(Consent)
        .where(
            Consent.status != DELETED,
            or_(
                and_(Consent.is_minor.is_(False), Consent.signed_on < adult_cutoff),
                and_(Consent.is_minor.is_(True), Consent.date_of_birth < minor_cutoff),
            ),
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
