"""A patient withdraws a consent: staff record the day and the reason, with the patient's own
signature when they are there to give it; a sealed one-page `withdrawal` record keeps it
(`intake.archive.records`). From then on the consent is not current, so no injection can be
recorded under it, and the patient's next due date is cleared. Audited. No Flask here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from intake.archive import audit
from intake.archive.audit import Actor
from intake.archive.course_models import WITHDRAWAL, Patient, Record, Withdrawal
from intake.archive.errors import ArchiveError, ConsentMissing
from intake.archive.models import DELETED, Consent, Staff, is_id
from intake.archive.patients import touch
from intake.archive.records import DomainRows
from intake.definition import ConsentDefinition
from intake.languages import date_in_words, date_of_birth_shown, words
from intake.pdf.record import RecordField, RecordPage, record_language
from intake.pdf.render import signed_time
from intake.submission import SignaturePad

if TYPE_CHECKING:
    from intake.archive.service import Archive

REASON_MAX = 1000

#: Why a withdrawal is refused (`WithdrawalRefused.code`, and the field it belongs to).
NO_REASON, LONG_REASON, FUTURE_DAY, BEFORE_SIGNING, ALREADY, VOID, NO_PATIENT = (
    "no-reason",
    "long-reason",
    "future-day",
    "before-signing",
    "already",
    "void",
    "no-patient",
)
FIELDS = {
    NO_REASON: "reason",
    LONG_REASON: "reason",
    FUTURE_DAY: "withdrawn_on",
    BEFORE_SIGNING: "withdrawn_on",
}


class WithdrawalRefused(ArchiveError):
    """A withdrawal that cannot be recorded; `code` says why, `field` where to show it."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code
        self.field = FIELDS.get(code, "")


@dataclass(frozen=True)
class WithdrawalRequest:
    """What staff record: the day the patient withdrew, why, and their signature (None: the
    patient is not there to sign, e.g. they withdrew by phone or letter)."""

    withdrawn_on: date
    reason: str
    signature: SignaturePad | None = None


def checked(archive: Archive, consent_id: str, request: WithdrawalRequest) -> Checked:
    """The consent, its patient and the stripped reason of a withdrawal that may be recorded;
    `WithdrawalRefused` (or `ConsentMissing`) otherwise."""
    reason = request.reason.strip()
    if not reason:
        raise WithdrawalRefused(NO_REASON)
    if len(reason) > REASON_MAX:
        raise WithdrawalRefused(LONG_REASON)
    today = archive.clock().date()
    if request.withdrawn_on > today:
        raise WithdrawalRefused(FUTURE_DAY)
    with archive.sessions() as session:
        consent = session.get(Consent, consent_id) if is_id(consent_id) else None
        if consent is None or consent.status == DELETED:
            raise ConsentMissing(consent_id)
        patient = session.get(Patient, consent.patient_id) if consent.patient_id else None
    if patient is None:
        raise WithdrawalRefused(NO_PATIENT)
    if consent.voided_at is not None:
        raise WithdrawalRefused(VOID)
    if consent.withdrawn_at is not None:
        raise WithdrawalRefused(ALREADY)
    if request.withdrawn_on < consent.signed_on:
        raise WithdrawalRefused(BEFORE_SIGNING)
    return Checked(consent, patient, reason)


@dataclass(frozen=True)
class Checked:
    consent: Consent
    patient: Patient
    reason: str


def meaning_of(archive: Archive, form_id: str) -> str:
    """What the patient's signature on a withdrawal means, in the form's own words."""
    try:
        return archive.catalog.get(form_id).withdrawal_meaning
    except KeyError:
        return ""


def withdraw(
    archive: Archive, consent_id: str, request: WithdrawalRequest, staff: Staff, actor: Actor
) -> str:
    """Record the withdrawal of `consent_id` and seal its record; the record's id. The
    withdrawal holds once this returns, even if sealing its PDF failed (it stays pending and
    `repair` seals it)."""
    found = checked(archive, consent_id, request)
    now = archive.clock()
    meaning = meaning_of(archive, found.consent.form_id)
    body = withdrawal_body(found.consent, found.patient, request, found.reason, staff, now, meaning)
    return store(archive, found, request, staff.id, actor, body)


def store(
    archive: Archive,
    found: Checked,
    request: WithdrawalRequest,
    staff_id: str,
    actor: Actor,
    body: dict[str, Any],
    also: DomainRows | None = None,
) -> str:
    """Accept the withdrawal record with its rows in one transaction (the consent marked
    withdrawn, the `Withdrawal`, the next due day cleared, `also`'s rows) and seal it."""
    consent, patient = found.consent, found.patient
    now = archive.clock()

    def rows(session: Session, record: Record) -> None:
        won = session.execute(
            update(Consent)
            .where(Consent.id == consent.id, Consent.withdrawn_at.is_(None))
            .values(withdrawn_at=now)
        ).rowcount
        if not won:
            raise WithdrawalRefused(ALREADY)
        session.add(
            Withdrawal(
                consent_id=consent.id,
                patient_id=patient.id,
                withdrawn_on=request.withdrawn_on,
                reason=found.reason,
                recorded_by=staff_id,
                recorded_at=now,
                patient_signed=request.signature is not None,
                record_id=record.id,
            )
        )
        session.execute(update(Patient).where(Patient.id == patient.id).values(next_due_on=None))
        touch(session, patient.id, now.date())
        if also is not None:
            also(session, record)
        audit.record(session, "consent withdrawn", actor, consent.id)

    return archive.records.submit(
        WITHDRAWAL,
        body,
        patient_id=patient.id,
        consent_id=consent.id,
        actor=actor,
        key=submit_key(consent.id),
        rows=rows,
    )


def submit_key(consent_id: str) -> str:
    """One withdrawal record per consent, however often it is sent."""
    return f"withdrawal {consent_id}"


def withdrawal_body(
    consent: Consent,
    patient: Patient,
    request: WithdrawalRequest,
    reason: str,
    staff: Staff,
    at: datetime,
    meaning: str,
    *,
    signed_at: datetime | None = None,
    tablet: str = "",
) -> dict[str, Any]:
    """What the withdrawal record seals: whose consent, withdrawn when and why, recorded by
    whom, and the patient's signature under the form's words (or that they did not sign); for
    a signature given on a tablet, when and on which."""
    pad = request.signature
    on_tablet = {} if signed_at is None else {"signed_at": signed_at.isoformat(), "tablet": tablet}
    return {
        **on_tablet,
        "patient": {
            "id": patient.id,
            "legal_name": patient.legal_name,
            "date_of_birth": patient.date_of_birth.isoformat() if patient.date_of_birth else None,
        },
        "consent": {
            "id": consent.id,
            "pdf_sha256": consent.pdf_sha256,
            "form": {"id": consent.form_id, "version": consent.form_version},
            "signed_on": consent.signed_on.isoformat(),
        },
        "withdrawn_on": request.withdrawn_on.isoformat(),
        "reason": reason,
        "recorded_by": {"id": staff.id, "name": staff.name},
        "recorded_at": at.isoformat(),
        "meaning": meaning,
        "signature": None
        if pad is None
        else {
            "width": pad.width,
            "height": pad.height,
            "strokes": [[list(point) for point in stroke] for stroke in pad.strokes],
        },
    }


def withdrawal_page(
    record: Record, body: dict[str, Any], consent: Consent, definition: ConsentDefinition
) -> RecordPage:
    """The withdrawal's one page, from its sealed body (the renderer of `withdrawal` records)."""
    language = record_language(consent.language)
    _ = words(language)
    sig = body["signature"]
    recorded = signed_time(datetime.fromisoformat(body["recorded_at"]), language)
    signed = body["consent"]
    fields = (
        RecordField(_("Patient"), body["patient"]["legal_name"]),
        RecordField(
            _("Date of birth"), date_of_birth_shown(body["patient"]["date_of_birth"], language)
        ),
        RecordField(
            _("Consent"),
            _(
                "signed %(signed_on)s, %(form)s version %(version)s",
                signed_on=date_in_words(signed["signed_on"], language),
                form=signed["form"]["id"],
                version=signed["form"]["version"],
            ),
        ),
        RecordField(_("Withdrawn on"), date_in_words(body["withdrawn_on"], language)),
        RecordField(_("Reason"), body["reason"]),
        RecordField(_("Recorded by"), f"{body['recorded_by']['name']}, {recorded}"),
    )
    common = {
        "kind": WITHDRAWAL,
        "title": _("Withdrawal of consent"),
        "clinic_name": definition.clinic_name,
        "fields": fields,
        "note": _("No further injection may be given under this consent."),
        "record_rows": (
            RecordField(_("Record SHA-256"), record.body_sha256),
            RecordField(_("Submitted data"), _("attached to this PDF as record.json")),
        ),
        "language": language,
    }
    if sig is None:
        return RecordPage(
            **common,
            notice=_("The patient was not present to sign: recorded by staff."),
        )
    pad = SignaturePad(
        sig["width"], sig["height"], tuple(tuple(map(tuple, s)) for s in sig["strokes"])
    )
    if "signed_at" in body:
        signed = signed_time(datetime.fromisoformat(body["signed_at"]), language)
        common["record_rows"] = (RecordField(_("Tablet"), body["tablet"]), *common["record_rows"])
    else:
        signed = recorded
    return RecordPage(
        **common,
        signature=pad,
        signature_heading=_("Patient signature"),
        signature_meaning=body["meaning"],
        signature_rows=(
            RecordField(_("Signed by"), body["patient"]["legal_name"]),
            RecordField(_("Signed"), signed),
        ),
    )


def withdrawal_of(archive: Archive, consent_id: str) -> Withdrawal | None:
    """The withdrawal of a consent, if it was withdrawn."""
    with archive.sessions() as session:
        return session.scalar(select(Withdrawal).where(Withdrawal.consent_id == consent_id))
