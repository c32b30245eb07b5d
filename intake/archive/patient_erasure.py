"""A patient's details go with their last consent. When retention deletes a patient's last
consent still kept, the same transaction erases what the patient row and the rest of their
course carry of them: name, first name, date of birth, contact details, the name's search words,
the merge reasons, the sealed bodies and PDFs of their course records (visits, injections,
withdrawals: each relies on one of the patient's consents, and retention of every consent runs
from the patient's last entry, so they are past retention too), and the free text staff wrote
about them (notes, reasons, reviews).

The bare patient row stays, with its `erased_at`: the consents (kept as `deleted` for their ids
and audit events), visits, injections and withdrawals still name it by id, and lot traceability
(which lot went into someone, when, at which site) keeps no patient detail. Records merged into
the patient are erased alike. The audit event names the patient's id only. No Flask here.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, exists, select, update
from sqlalchemy.orm import Session

from intake.archive import audit
from intake.archive.audit import Actor
from intake.archive.course_models import (
    Injection,
    Patient,
    PatientName,
    Record,
    Visit,
    Withdrawal,
    WithdrawalHandoff,
)
from intake.archive.models import DELETED, Consent
from intake.archive.patients import MERGE_HOPS


def still_kept(session: Session, patient_ids: list[str]) -> bool:
    """Whether any consent filed under these patients is still kept (not deleted)."""
    return bool(
        session.scalar(
            select(exists().where(Consent.patient_id.in_(patient_ids), Consent.status != DELETED))
        )
    )


def with_merged(session: Session, patient_id: str) -> list[str]:
    """The patient and every record merged into it, along merges."""
    ids, frontier = [patient_id], [patient_id]
    for _ in range(MERGE_HOPS):
        frontier = list(
            session.scalars(select(Patient.id).where(Patient.merged_into.in_(frontier)))
        )
        if not frontier:
            break
        ids += frontier
    return ids


def erase_if_last(
    session: Session, patient_id: str | None, at: datetime, actor: Actor
) -> list[str]:
    """In the deleting transaction: erase the patient when no consent of theirs is kept any
    more. The SHA-256 of each course record's PDF that no longer has a name (for the caller to
    discard from the blob store); empty when the patient keeps a consent."""
    if patient_id is None:
        return []
    ids = with_merged(session, patient_id)
    if still_kept(session, ids):
        return []
    pdfs = list(
        session.scalars(
            select(Record.pdf_sha256).where(
                Record.patient_id.in_(ids), Record.pdf_sha256.is_not(None)
            )
        )
    )
    session.execute(
        update(Record)
        .where(Record.patient_id.in_(ids))
        .values(status=DELETED, body_json=None, pdf_sha256=None, pdf_size=None, last_error=None)
    )
    session.execute(update(Visit).where(Visit.patient_id.in_(ids)).values(review_note=None))
    session.execute(
        update(Injection)
        .where(Injection.patient_id.in_(ids))
        .values(notes=None, reaction_action=None, override_reason=None, correction_reason=None)
    )
    session.execute(update(Withdrawal).where(Withdrawal.patient_id.in_(ids)).values(reason=""))
    session.execute(
        update(WithdrawalHandoff).where(WithdrawalHandoff.patient_id.in_(ids)).values(reason=None)
    )
    session.execute(delete(PatientName).where(PatientName.patient_id.in_(ids)))
    session.execute(
        update(Patient)
        .where(Patient.id.in_(ids))
        .values(
            legal_name="",
            first_name="",
            date_of_birth=None,
            phone=None,
            email=None,
            address=None,
            merge_reason=None,
            next_due_on=None,
            erased_at=at,
        )
    )
    for erased in ids:
        audit.record(session, "patient erased", actor, erased)
    return pdfs
