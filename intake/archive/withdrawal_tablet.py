"""A withdrawal the patient signs on an enrolled tablet: a clinician sends it from the withdraw
page to one of the clinic's tablets (the day and the reason already given), the tablet shows the
patient's first name, the form's withdrawal statement and the pad, and when the patient signs
there the withdrawal is recorded and sealed (`intake.archive.withdrawals.store`). Until then
staff see it waiting and may cancel it. Every step is an audit event naming ids only. No Flask.

The tablet never looks a patient up: it asks `open_for_tablet` for the withdrawal sent to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from intake.archive import audit
from intake.archive.audit import Actor
from intake.archive.course_models import (
    HANDOFF_CANCELLED,
    HANDOFF_SIGNED,
    HANDOFF_WAITING,
    VISIT_OPEN,
    Patient,
    Record,
    Visit,
    WithdrawalHandoff,
)
from intake.archive.errors import ArchiveError
from intake.archive.models import Consent, Staff, Tablet, is_id
from intake.archive.withdrawals import (
    Checked,
    WithdrawalRequest,
    checked,
    store,
    submit_key,
    withdrawal_body,
)
from intake.submission import SignaturePad

if TYPE_CHECKING:
    from intake.archive.service import Archive

#: Why a withdrawal cannot be sent, signed or cancelled (`HandoffError.code`).
NO_TABLET = "no-tablet"
TABLET_BUSY = "tablet-busy"
WAITING = "waiting"
NOT_WAITING = "not-waiting"


class HandoffError(ArchiveError):
    """A tablet withdrawal refused; `code` says which rule (the page words it)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class OpenWithdrawal:
    """What the tablet may know of the withdrawal sent to it: ids and the first name."""

    handoff_id: str
    first_name: str
    form_id: str
    #: The language the patient read their consent in: the page opens in it.
    language: str


def tablet_busy(session: Session, tablet_id: str) -> bool:
    """Whether the tablet has a visit open or a withdrawal waiting (one patient at a time)."""
    visit = session.scalar(
        select(Visit.id).where(Visit.device_id == tablet_id, Visit.status == VISIT_OPEN).limit(1)
    )
    waiting = session.scalar(
        select(WithdrawalHandoff.id)
        .where(
            WithdrawalHandoff.device_id == tablet_id,
            WithdrawalHandoff.status == HANDOFF_WAITING,
        )
        .limit(1)
    )
    return visit is not None or waiting is not None


class TabletWithdrawals:
    def __init__(self, archive: Archive) -> None:
        self.archive = archive

    def start(
        self, consent_id: str, request: WithdrawalRequest, tablet_id: str, actor: Actor
    ) -> WithdrawalHandoff:
        """Send the withdrawal of `consent_id` to the enrolled tablet for the patient to sign.

        Refused as a direct withdrawal would be (`WithdrawalRefused`), and (`HandoffError`) for
        a tablet not enrolled, one busy with another patient, or a withdrawal of this consent
        already waiting."""
        found = checked(self.archive, consent_id, request)
        with self.archive.transaction() as session:
            tablet = session.get(Tablet, tablet_id) if is_id(tablet_id) else None
            if tablet is None or tablet.revoked_at is not None:
                raise HandoffError(NO_TABLET)
            # Lock the tablet's row: two staff sending to one tablet at once get one hand-off.
            session.execute(select(Tablet.id).where(Tablet.id == tablet.id).with_for_update())
            if waiting_for(session, found.consent.id) is not None:
                raise HandoffError(WAITING)
            if tablet_busy(session, tablet.id):
                raise HandoffError(TABLET_BUSY)
            handoff = WithdrawalHandoff(
                consent_id=found.consent.id,
                patient_id=found.patient.id,
                device_id=tablet.id,
                status=HANDOFF_WAITING,
                withdrawn_on=request.withdrawn_on,
                reason=found.reason,
                started_by=actor.staff_id,
                started_at=self.archive.clock(),
            )
            session.add(handoff)
            session.flush()
            audit.record(session, "withdrawal started", actor, handoff.id)
        return handoff

    def cancel(self, handoff_id: str, actor: Actor) -> None:
        """Cancel a withdrawal the patient has not signed (`HandoffError` otherwise)."""
        with self.archive.transaction() as session:
            done = session.execute(
                update(WithdrawalHandoff)
                .where(
                    WithdrawalHandoff.id == handoff_id,
                    WithdrawalHandoff.status == HANDOFF_WAITING,
                )
                .values(status=HANDOFF_CANCELLED, ended_at=self.archive.clock())
            ).rowcount
            if not done:
                raise HandoffError(NOT_WAITING)
            audit.record(session, "withdrawal cancelled", actor, handoff_id)

    def open_for_tablet(self, tablet_id: str | None) -> OpenWithdrawal | None:
        """The withdrawal staff sent to this tablet that still waits, if any."""
        if tablet_id is None:
            return None
        with self.archive.sessions() as session:
            row = session.execute(
                select(WithdrawalHandoff.id, Patient.first_name, Consent.form_id, Consent.language)
                .join(Patient, Patient.id == WithdrawalHandoff.patient_id)
                .join(Consent, Consent.id == WithdrawalHandoff.consent_id)
                .where(
                    WithdrawalHandoff.device_id == tablet_id,
                    WithdrawalHandoff.status == HANDOFF_WAITING,
                )
                .order_by(WithdrawalHandoff.started_at.desc())
                .limit(1)
            ).first()
        return OpenWithdrawal(*row) if row is not None else None

    def sign(
        self,
        handoff_id: str,
        tablet_id: str,
        pad: SignaturePad,
        signed_at: datetime,
        actor: Actor,
        *,
        language: str | None = None,
    ) -> str:
        """Record and seal the withdrawal with the patient's signature given on this tablet;
        the record's id. The hand-off must be waiting and on this tablet (`HandoffError`
        otherwise); a repeated submit returns the record the first made. `language` is the
        one the patient read the statement in: the record seals those words."""
        archive = self.archive
        with archive.sessions() as session:
            handoff = session.get(WithdrawalHandoff, handoff_id) if is_id(handoff_id) else None
            if handoff is None or handoff.device_id != tablet_id:
                raise HandoffError(NOT_WAITING)
            if handoff.status == HANDOFF_SIGNED and handoff.record_id is not None:
                return handoff.record_id
            if handoff.status != HANDOFF_WAITING:
                raise HandoffError(NOT_WAITING)
            staff = session.get(Staff, handoff.started_by)
            tablet = session.get(Tablet, tablet_id)
        assert staff is not None
        if (known := archive.records.known(submit_key(handoff.consent_id))) is not None:
            return known
        request = WithdrawalRequest(handoff.withdrawn_on, handoff.reason or "", pad)
        found = checked(archive, handoff.consent_id, request)
        body = withdrawal_body(
            found.consent,
            found.patient,
            request,
            found.reason,
            staff,
            handoff.started_at,
            statement(archive, found, language),
            signed_at=signed_at,
            tablet=tablet.name if tablet else "",
        )
        moment = archive.clock()

        def mark_signed(session: Session, record: Record) -> None:
            won = session.execute(
                update(WithdrawalHandoff)
                .where(
                    WithdrawalHandoff.id == handoff_id,
                    WithdrawalHandoff.status == HANDOFF_WAITING,
                    WithdrawalHandoff.device_id == tablet_id,
                )
                .values(status=HANDOFF_SIGNED, ended_at=moment, record_id=record.id)
            ).rowcount
            if not won:
                raise HandoffError(NOT_WAITING)
            audit.record(session, "withdrawal signed", actor, handoff_id)

        return store(archive, found, request, staff.id, actor, body, also=mark_signed)

    def waiting(self, consent_id: str) -> WithdrawalHandoff | None:
        """The withdrawal of this consent waiting on a tablet, if any."""
        with self.archive.sessions() as session:
            return waiting_for(session, consent_id)


def waiting_for(session: Session, consent_id: str) -> WithdrawalHandoff | None:
    return session.scalar(
        select(WithdrawalHandoff).where(
            WithdrawalHandoff.consent_id == consent_id,
            WithdrawalHandoff.status == HANDOFF_WAITING,
        )
    )


def statement(archive: Archive, found: Checked, language: str | None) -> str:
    """The withdrawal statement the patient signs under, in `language` when the form has it."""
    try:
        return archive.catalog.get(found.consent.form_id, language).withdrawal_meaning
    except KeyError:
        try:
            return archive.catalog.get(found.consent.form_id).withdrawal_meaning
        except KeyError:
            return ""


@dataclass(frozen=True)
class Waiting:
    """A withdrawal sent to a tablet and not yet signed, as the patient's page names it."""

    consent_id: str
    tablet_name: str
    started_at: datetime


def waiting_of_patient(archive: Archive, patient_id: str) -> list[Waiting]:
    """The withdrawals of this patient's consents (a merged record's too) waiting on a tablet."""
    with archive.sessions() as session:
        rows = session.execute(
            select(WithdrawalHandoff, Tablet.name)
            .join(Consent, Consent.id == WithdrawalHandoff.consent_id)
            .outerjoin(Tablet, Tablet.id == WithdrawalHandoff.device_id)
            .where(
                WithdrawalHandoff.status == HANDOFF_WAITING,
                (Consent.patient_id == patient_id) | (WithdrawalHandoff.patient_id == patient_id),
            )
            .order_by(WithdrawalHandoff.started_at)
        ).all()
    return [Waiting(h.consent_id, name or "", h.started_at) for h, name in rows]
