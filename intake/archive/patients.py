"""Patients: the record each consent is filed under, and whether a patient's consent holds.

Every consent gets its patient in the transaction that accepts it (`file_consent`): a new
patient made from what the consent says, or the patient a staff-started consent was for. Two
records become one only when staff say so (`intake.archive.patient_match`). A consent is
*current* while it is within the form's `consent_valid_days`, of the form's current major
version, sealed, not withdrawn and not voided (`validity`, `current_consent`). Retention of a
patient's records runs from their last entry (`touch`). No Flask here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, defer

from intake.archive.course_models import Patient, PatientName, Withdrawal
from intake.archive.errors import ArchiveError
from intake.archive.models import ARCHIVED, DELETED, Consent, Staff, is_id, new_id
from intake.archive.search import name_words
from intake.definition import FormCatalog

if TYPE_CHECKING:
    from intake.archive.service import Archive
    from intake.submission import Submission

#: How a consent stands on a day (`Validity.code`).
CURRENT, EXPIRED, CHANGED, WITHDRAWN, VOIDED, UNSEALED, NO_FORM, NONE = (
    "current",
    "expired",
    "changed",
    "withdrawn",
    "voided",
    "unsealed",
    "no-form",
    "none",
)
#: A merged record's page forwards along at most this many merges.
MERGE_HOPS = 10


class PatientMissing(ArchiveError, KeyError):
    """No patient has this id."""


@dataclass(frozen=True)
class Validity:
    """Whether one consent holds on a day, and if not, why, as a code and its one detail (a
    date or a version) so each language words it; `reason` is the English wording."""

    code: str
    #: The last day the consent holds by its age (None: no consent).
    until: date | None = None
    #: The date or version the reason names.
    detail: str = ""

    @property
    def current(self) -> bool:
        return self.code == CURRENT

    @property
    def reason(self) -> str:
        return {
            CURRENT: f"current until {self.detail}",
            EXPIRED: f"consent of {self.detail} expired",
            CHANGED: f"the form's text changed: version {self.detail}",
            WITHDRAWN: f"withdrawn on {self.detail}",
            VOIDED: "voided",
            UNSEALED: "its sealed PDF is not made yet",
            NO_FORM: "its form is no longer offered",
            NONE: "no consent on file",
        }[self.code]


@dataclass(frozen=True)
class Currentness:
    """The consent a patient's next visit may rely on, or None and why not (`reason`)."""

    consent: Consent | None
    validity: Validity

    @property
    def reason(self) -> str:
        return "" if self.consent is not None else self.validity.reason


def first_name_of(legal_name: str, preferred_name: str = "") -> str:
    """What the tablet may call a returning patient: the preferred name, else the legal
    name's first word."""
    preferred = " ".join(preferred_name.split())
    words = legal_name.split()
    return (preferred or (words[0] if words else ""))[:100]


def contact_of(raw: dict[str, Any]) -> dict[str, Any]:
    """The contact details a submission's patient block gives, cut to the columns' sizes."""
    patient = raw.get("patient")
    patient = patient if isinstance(patient, dict) else {}

    def text(key: str, size: int | None) -> str | None:
        value = patient.get(key)
        if not isinstance(value, str) or not value.strip():
            return None
        return value.strip()[:size] if size else value.strip()

    return {
        "phone": text("phone", 40),
        "email": text("email", 254),
        "address": text("address", None),
    }


def add_name_words(
    session: Session, patient_id: str, legal_name: str, *, new: bool = False
) -> None:
    """File `legal_name`'s folded words under the patient (words it has already are kept;
    `new`: a patient just added, who has none)."""
    have = (
        set()
        if new
        else set(
            session.scalars(select(PatientName.word).where(PatientName.patient_id == patient_id))
        )
    )
    session.add_all(
        PatientName(word=word, patient_id=patient_id)
        for word in name_words(legal_name)
        if word not in have
    )


def file_consent(
    session: Session,
    consent: Consent,
    submission: Submission,
    patient_id: str | None = None,
) -> str:
    """Give a consent being accepted its patient, in the caller's transaction: the patient
    `patient_id` names (a consent staff started for them), else a new one made from the
    consent. Called before the consent is added, so the patient row is written first. The
    consent's own "consent created" event covers the new patient: `first_consent_id` names it."""
    day = submission.signed_at.date()
    if consent.id is None:
        consent.id = new_id()
    if patient_id is not None:
        kept = _kept(session, patient_id)
        add_name_words(session, kept.id, submission.patient.legal_name)
        touch(session, kept.id, day)
        consent.patient_id = kept.id
        return kept.id
    language = submission.raw.get("language")
    patient = Patient(
        legal_name=submission.patient.legal_name,
        first_name=first_name_of(submission.patient.legal_name, submission.patient.preferred_name),
        date_of_birth=submission.patient.date_of_birth,
        language=language[:10] if isinstance(language, str) and language else "en",
        created_at=consent.created_at,
        first_consent_id=consent.id,
        last_entry_on=day,
        doses_given=0,
        **contact_of(dict(submission.raw)),
    )
    session.add(patient)
    session.flush()
    add_name_words(session, patient.id, patient.legal_name, new=True)
    consent.patient_id = patient.id
    return patient.id


def _kept(session: Session, patient_id: str) -> Patient:
    """The record `patient_id` names, or the one it was merged into."""
    for _ in range(MERGE_HOPS):
        patient = session.get(Patient, patient_id) if is_id(patient_id) else None
        if patient is None:
            raise PatientMissing(patient_id)
        if patient.merged_into is None:
            return patient
        patient_id = patient.merged_into
    raise PatientMissing(patient_id)


def touch(session: Session, patient_id: str, day: date) -> None:
    """Note an entry on `day` (a consent, visit, injection or withdrawal): the patient's
    records are kept from their last entry."""
    session.execute(
        update(Patient)
        .where(Patient.id == patient_id, Patient.last_entry_on < day)
        .values(last_entry_on=day)
    )


# --- a consent's validity --------------------------------------------------------------------


def consent_days(consent: Consent, catalog: FormCatalog) -> int | None:
    """How many days a consent on this form holds (None: its form is no longer offered)."""
    try:
        return catalog.get(consent.form_id).course.consent_valid_days
    except KeyError:
        return None


def validity(
    consent: Consent, catalog: FormCatalog, today: date, withdrawn_on: date | None = None
) -> Validity:
    """How `consent` stands on `today`; `withdrawn_on` is the day its withdrawal gives."""
    try:
        definition = catalog.get(consent.form_id)
    except KeyError:
        return Validity(NO_FORM)
    until = consent.signed_on + timedelta(days=definition.course.consent_valid_days - 1)
    if consent.voided_at is not None:
        return Validity(VOIDED, until)
    if consent.withdrawn_at is not None or withdrawn_on is not None:
        day = withdrawn_on or (consent.withdrawn_at or datetime.min).date()
        return Validity(WITHDRAWN, until, day.isoformat())
    if consent.form_version.split(".", 1)[0] != definition.major_version:
        return Validity(CHANGED, until, definition.version)
    if today > until:
        return Validity(EXPIRED, until, consent.signed_on.isoformat())
    if consent.status != ARCHIVED:
        return Validity(UNSEALED, until)
    return Validity(CURRENT, until, until.isoformat())


def patient_consents(session: Session, patient_id: str) -> list[tuple[Consent, date | None]]:
    """The patient's consents, newest first, each with the day of its withdrawal (if any);
    without their submissions."""
    rows = session.execute(
        select(Consent, Withdrawal.withdrawn_on)
        .outerjoin(Withdrawal, Withdrawal.consent_id == Consent.id)
        .options(defer(Consent.submission_json))
        .where(Consent.patient_id == patient_id, Consent.status != DELETED)
        .order_by(Consent.created_at.desc(), Consent.id.desc())
    ).all()
    return [(consent, withdrawn_on) for consent, withdrawn_on in rows]


def current_consent(
    session: Session, patient_id: str, catalog: FormCatalog, today: date
) -> Currentness:
    """The newest consent of the patient that holds on `today`; else None, with the reason the
    newest one does not (or that there is none)."""
    consents = patient_consents(session, patient_id)
    verdicts = [(c, validity(c, catalog, today, w)) for c, w in consents]
    for consent, verdict in verdicts:
        if verdict.current:
            return Currentness(consent, verdict)
    if not verdicts:
        return Currentness(None, Validity(NONE))
    return Currentness(None, verdicts[0][1])


# --- reading, for the staff pages ------------------------------------------------------------


@dataclass(frozen=True)
class PatientFile:
    """A patient as their page shows them: the record, their consents with each one's
    validity, and the consent their next visit may rely on."""

    patient: Patient
    consents: list[tuple[Consent, Validity]]
    current: Currentness


def find(archive: Archive, patient_id: str) -> Patient:
    """The patient record `patient_id` names (merged or not); `PatientMissing` if none."""
    with archive.sessions() as session:
        patient = session.get(Patient, patient_id) if is_id(patient_id) else None
    if patient is None:
        raise PatientMissing(patient_id)
    return patient


def kept_record(archive: Archive, patient_id: str) -> Patient:
    """The record a merged one now lives in (itself when not merged)."""
    with archive.sessions() as session:
        return _kept(session, patient_id)


def staff_name(archive: Archive, staff_id: str | None) -> str | None:
    """A staff member's name (None: no id, or the account is gone)."""
    if staff_id is None:
        return None
    with archive.sessions() as session:
        return session.scalar(select(Staff.name).where(Staff.id == staff_id))


def patient_file(archive: Archive, patient_id: str, today: date | None = None) -> PatientFile:
    today = today or archive.clock().date()
    with archive.sessions() as session:
        patient = session.get(Patient, patient_id) if is_id(patient_id) else None
        if patient is None:
            raise PatientMissing(patient_id)
        consents = [
            (c, validity(c, archive.catalog, today, w))
            for c, w in patient_consents(session, patient_id)
        ]
        current = current_consent(session, patient_id, archive.catalog, today)
    return PatientFile(patient, consents, current)
