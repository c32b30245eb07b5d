"""The treatment course's tables: patients, their visits, the lots in stock, the injections
given, withdrawals, and the sealed records of each. On the archive's one metadata (`Base`), so
migrations and `create_all` see them with the rest."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, Float, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from intake.archive.models import Base, UTCDateTime, new_id
from intake.archive.reasons import Reason

#: The kinds of sealed course record (`records.kind`).
VISIT, INJECTION, WITHDRAWAL = "visit", "injection", "withdrawal"
#: Where a visit is: started by staff for a tablet, checked in (the patient signed), given (an
#: injection recorded), or cancelled by staff before the patient signed.
VISIT_OPEN, VISIT_CHECKED_IN, VISIT_GIVEN, VISIT_CANCELLED = (
    "open",
    "checked-in",
    "given",
    "cancelled",
)
#: The observation after an injection, in the seed's tiers.
REACTIONS = ("none", "mild", "serious", "severe")
#: Where an injection was given.
SITES = ("deltoid", "gluteal", "vastus-lateralis")
SIDES = ("left", "right")


class Patient(Base):
    """A person the clinic treats: made from their first consent, kept across every later
    consent, visit and injection. Two records become one only by a merge staff confirm."""

    __tablename__ = "patients"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    legal_name: Mapped[str] = mapped_column(String(300))
    #: What the tablet may show a returning patient: their preferred or first name, only.
    first_name: Mapped[str] = mapped_column(String(100))
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(254))
    address: Mapped[str | None] = mapped_column(Text)
    #: The language the patient reads (a code of `intake.i18n.LANGUAGES`).
    language: Mapped[str] = mapped_column(String(10), default="en")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: The consent the record was made from.
    first_consent_id: Mapped[str | None] = mapped_column(String(32))
    #: Merged into another record: this one is kept, pointing there, with who, when and why.
    merged_into: Mapped[str | None] = mapped_column(ForeignKey("patients.id"))
    merged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    merged_by: Mapped[str | None] = mapped_column(String(32))
    merge_reason: Mapped[str | None] = mapped_column(Text)
    #: The calendar day of the newest consent, visit, injection or withdrawal: retention runs
    #: from here.
    last_entry_on: Mapped[date] = mapped_column(Date)
    #: The schedule: the next injection is due on this day (None: none due, e.g. withdrawn).
    next_due_on: Mapped[date | None] = mapped_column(Date)
    #: Injections given (current records only), which places the next in the course.
    doses_given: Mapped[int] = mapped_column(Integer, default=0)
    #: Retention deleted the patient's last consent: name, date of birth, contact details and
    #: search words are gone; the bare row stays for the ids that name it.
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_patients_next_due", "next_due_on", "id"),
        Index("ix_patients_date_of_birth", "date_of_birth", "id"),
        Index("ix_patients_merged_into", "merged_into"),
        Index("ix_patients_last_entry", "last_entry_on", "id"),
    )


class PatientName(Base):
    """One word of a patient's name, folded for search, like `ConsentName`."""

    __tablename__ = "patient_names"

    word: Mapped[str] = mapped_column(
        String(100).with_variant(String(100, collation="C"), "postgresql"), primary_key=True
    )
    patient_id: Mapped[str] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), primary_key=True
    )

    __table_args__ = (Index("ix_patient_names_patient_id", "patient_id"),)


class Record(Base):
    """A sealed record of the course (a visit's check-in, an injection, a withdrawal): what was
    signed or recorded as canonical JSON, and where its sealed PDF is. Stored pending first and
    sealed after, exactly like a consent, so repair, retry, export, backup and verify treat
    every kind alike. The id is the PDF's document id."""

    __tablename__ = "records"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(10))
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id"))
    #: The consent the record relies on.
    consent_id: Mapped[str] = mapped_column(ForeignKey("consents.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    body_json: Mapped[bytes | None] = mapped_column(LargeBinary)
    body_sha256: Mapped[str] = mapped_column(String(64))
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))
    pdf_size: Mapped[int | None] = mapped_column(Integer)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Set by the sender so a repeated submit finds the record it made.
    submit_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    #: Why the last attempt to seal failed (staff wording or an exception's class name).
    last_error: Mapped[str | None] = mapped_column(Reason(200))

    __table_args__ = (
        Index("ix_records_kind", "kind", "created_at", "id"),
        Index("ix_records_patient", "patient_id", "created_at"),
        Index("ix_records_status", "status", "created_at"),
        Index("ix_records_pdf_sha256", "pdf_sha256"),
    )


class Visit(Base):
    """A returning patient's visit: started by staff from the patient's page for one tablet,
    checked in there (answers and signature, sealed as a `visit` record)."""

    __tablename__ = "visits"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id"))
    consent_id: Mapped[str] = mapped_column(ForeignKey("consents.id"))
    status: Mapped[str] = mapped_column(String(12))
    started_by: Mapped[str | None] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: The enrolled tablet staff sent the visit to.
    device_id: Mapped[str | None] = mapped_column(String(32))
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: The sealed check-in.
    record_id: Mapped[str | None] = mapped_column(ForeignKey("records.id"))
    #: A check-in answer needs a clinician's eye, and none has reviewed it yet.
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False)
    reviewed_by: Mapped[str | None] = mapped_column(String(32))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    review_note: Mapped[str | None] = mapped_column(Text)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_visits_status", "status", "started_at", "id"),
        Index("ix_visits_patient", "patient_id", "started_at"),
        Index("ix_visits_device", "device_id", "status"),
    )


class Lot(Base):
    """A lot of product in stock: what it is, who made it, its number and expiry. An expired or
    recalled lot cannot be chosen for an injection."""

    __tablename__ = "lots"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    product: Mapped[str] = mapped_column(String(200))
    strength: Mapped[str] = mapped_column(String(100))
    #: The supplier or compounding pharmacy.
    supplier: Mapped[str] = mapped_column(String(200))
    lot_number: Mapped[str] = mapped_column(String(100))
    expires_on: Mapped[date] = mapped_column(Date)
    created_by: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recalled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    recalled_by: Mapped[str | None] = mapped_column(String(32))
    recall_reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("uq_lots_product_lot", "product", "lot_number", unique=True),)


class Injection(Base):
    """One injection given, as the clinician recorded and signed it (sealed as an `injection`
    record). A correction is a new row that supersedes the old; rows are never edited."""

    __tablename__ = "injections"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id"))
    visit_id: Mapped[str] = mapped_column(ForeignKey("visits.id"))
    consent_id: Mapped[str] = mapped_column(ForeignKey("consents.id"))
    lot_id: Mapped[str] = mapped_column(ForeignKey("lots.id"))
    record_id: Mapped[str | None] = mapped_column(ForeignKey("records.id"))
    #: The visit's id on its first record, None on a correction: unique, so two clinicians
    #: recording the same visit at once make one record, not two.
    visit_key: Mapped[str | None] = mapped_column(String(32), unique=True)
    dose_mg: Mapped[float] = mapped_column(Float)
    volume_ml: Mapped[float] = mapped_column(Float)
    route: Mapped[str] = mapped_column(String(10))
    site: Mapped[str] = mapped_column(String(30))
    side: Mapped[str] = mapped_column(String(5))
    given_at: Mapped[datetime] = mapped_column(UTCDateTime())
    notes: Mapped[str | None] = mapped_column(Text)
    reaction: Mapped[str] = mapped_column(String(10))
    reaction_action: Mapped[str | None] = mapped_column(Text)
    clinician_id: Mapped[str] = mapped_column(String(32))
    #: The clinician's name as it was when they signed.
    clinician_name: Mapped[str] = mapped_column(String(200))
    #: Given fewer than `min_interval_days` after the last: the clinician's reason.
    override_reason: Mapped[str | None] = mapped_column(Text)
    #: Which place in the course this dose took (1 = the first), and when the next is due.
    dose_number: Mapped[int] = mapped_column(Integer)
    next_due_on: Mapped[date | None] = mapped_column(Date)
    supersedes: Mapped[str | None] = mapped_column(String(32))
    superseded_by: Mapped[str | None] = mapped_column(String(32))
    correction_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_injections_patient", "patient_id", "given_at"),
        Index("ix_injections_lot", "lot_id", "given_at"),
        Index("ix_injections_given", "given_at", "id"),
    )


class Withdrawal(Base):
    """A patient withdrew a consent: no further injection may be recorded under it."""

    __tablename__ = "withdrawals"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    consent_id: Mapped[str] = mapped_column(ForeignKey("consents.id"), unique=True)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id"), index=True)
    withdrawn_on: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[str | None] = mapped_column(String(32))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: The patient signed the withdrawal on the tablet (else staff recorded it without).
    patient_signed: Mapped[bool] = mapped_column(Boolean)
    record_id: Mapped[str | None] = mapped_column(ForeignKey("records.id"))


class PatientsApart(Base):
    """Staff looked at two records that seemed alike and said they are not the same person: the
    pair is no longer offered as a possible match. Stored once per pair, the smaller id first."""

    __tablename__ = "patients_apart"

    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id"), primary_key=True)
    other_id: Mapped[str] = mapped_column(ForeignKey("patients.id"), primary_key=True)
    decided_by: Mapped[str | None] = mapped_column(String(32))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime())


#: Where a withdrawal sent to a tablet is: waiting for the patient's signature there, signed
#: (the withdrawal is recorded), or cancelled by staff before the patient signed.
HANDOFF_WAITING, HANDOFF_SIGNED, HANDOFF_CANCELLED = "waiting", "signed", "cancelled"


class WithdrawalHandoff(Base):
    """A withdrawal staff sent to one enrolled tablet for the patient to sign there. The
    withdrawal itself (`Withdrawal`, the sealed record) is made only when the patient signs."""

    __tablename__ = "withdrawal_handoffs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    consent_id: Mapped[str] = mapped_column(ForeignKey("consents.id"))
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id"))
    #: The enrolled tablet the patient signs on.
    device_id: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(12))
    withdrawn_on: Mapped[date] = mapped_column(Date)
    reason: Mapped[str | None] = mapped_column(Text)
    started_by: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: The sealed withdrawal, once signed.
    record_id: Mapped[str | None] = mapped_column(ForeignKey("records.id"))

    __table_args__ = (
        Index("ix_withdrawal_handoffs_device", "device_id", "status"),
        Index("ix_withdrawal_handoffs_consent", "consent_id", "status"),
    )
