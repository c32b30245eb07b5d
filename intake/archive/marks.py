"""What staff add beside a consent without changing its sealed PDF: a clinician's review, and an
admin's void (a consent taken by mistake or forged is kept, marked void with the reason, and
never deleted). No Flask here: `Archive.review` and `Archive.void` call these.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import update

from intake.archive import audit
from intake.archive.audit import Actor
from intake.archive.errors import ArchiveError
from intake.archive.models import Consent, Review, Staff
from intake.languages import N_, Said

if TYPE_CHECKING:
    from intake.archive.service import Archive

NOTE_MAX = 5000
VOID_REASON_MAX = 1000

NO_NOTE = N_("Write a review note.")
LONG_NOTE = Said(N_("A review note can be at most %(num)s characters."), num=NOTE_MAX)
NO_REASON = N_("Write why this consent is void.")
LONG_REASON = Said(N_("The reason can be at most %(num)s characters."), num=VOID_REASON_MAX)
VOID_ALREADY = N_("This consent is void already.")


def review(archive: Archive, consent_id: str, staff: Staff, note: str, actor: Actor) -> Review:
    """Keep a clinician's review beside the consent; the signed PDF is not touched."""
    note = note.strip()
    if not note:
        raise ArchiveError(NO_NOTE)
    if len(note) > NOTE_MAX:
        raise ArchiveError(LONG_NOTE)
    archive.get(consent_id)
    with archive.transaction() as session:
        row = Review(
            consent_id=consent_id,
            staff_id=staff.id,
            staff_name=staff.name,
            note=note,
            reviewed_at=archive.clock(),
        )
        session.add(row)
        session.execute(update(Consent).where(Consent.id == consent_id).values(needs_review=False))
        audit.record(session, "consent reviewed", actor, consent_id)
    return row


def void(archive: Archive, consent_id: str, reason: str, actor: Actor) -> Consent:
    """Mark a consent void with the reason and who voided it (`actor.staff_id`; None for the
    command line). Its status, answers and sealed PDF stay as they are. Raises `ConsentMissing`,
    or `ArchiveError` for a missing reason or a consent void already."""
    reason = reason.strip()
    if not reason:
        raise ArchiveError(NO_REASON)
    if len(reason) > VOID_REASON_MAX:
        raise ArchiveError(LONG_REASON)
    archive.get(consent_id)
    with archive.transaction() as session:
        won = session.execute(
            update(Consent)
            .where(Consent.id == consent_id, Consent.voided_at.is_(None))
            .values(voided_at=archive.clock(), voided_by=actor.staff_id, void_reason=reason)
        ).rowcount
        if not won:
            raise ArchiveError(VOID_ALREADY)
        audit.record(session, "consent voided", actor, consent_id)
    return archive.get(consent_id)
