"""The archive's tables. Alembic migrations in `intake/migrations` create exactly these.

Ids are random UUIDs (32 lowercase hex digits), so a URL never says how many consents there are
or which came before. Times are stored in UTC.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from intake.archive.reasons import Reason

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: Consent states: the submission is committed first ("pending"), the sealed PDF after
#: ("archived"); a consent past retention that an admin deleted keeps only its id ("deleted").
PENDING, ARCHIVED, DELETED = "pending", "archived", "deleted"

#: Staff roles, each allowed what the one before it may do, and more.
ROLES = ("front-desk", "clinician", "admin")


def new_id() -> str:
    return uuid.uuid4().hex


def is_id(value: str | None) -> bool:
    """Whether `value` has the shape of an id `new_id` makes (checked before any lookup)."""
    return bool(value) and len(value) == 32 and all(c in "0123456789abcdef" for c in value)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite keeps no zone of its own)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("archive times must carry a time zone")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Consent(Base):
    """One signed consent: the submission exactly as signed, and where its sealed PDF is."""

    __tablename__ = "consents"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    status: Mapped[str] = mapped_column(String(10))
    form_id: Mapped[str] = mapped_column(String(100))
    form_version: Mapped[str] = mapped_column(String(40))
    form_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: The signing time as the tablet recorded it (ISO 8601 with the clinic's UTC offset)...
    signed_at: Mapped[str] = mapped_column(String(40))
    #: ...and its calendar date there, for date-range searches and retention.
    signed_on: Mapped[date] = mapped_column(Date)
    legal_name: Mapped[str] = mapped_column(String(300))
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    is_minor: Mapped[bool] = mapped_column(Boolean)
    #: A screening answer needs a clinician's eye...
    flagged: Mapped[bool] = mapped_column(Boolean)
    #: ...and none has reviewed it yet.
    needs_review: Mapped[bool] = mapped_column(Boolean)
    #: The canonical submission JSON (answers and signature strokes), byte for byte.
    submission_json: Mapped[bytes | None] = mapped_column(LargeBinary)
    submission_sha256: Mapped[str] = mapped_column(String(64))
    #: Set once the sealed PDF is stored: its SHA-256 names the file (or the blob row).
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))
    pdf_size: Mapped[int | None] = mapped_column(Integer)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Set by the sender (the tablet: its draft and submit token), so a submit repeated after a
    #: crash finds the consent it made instead of making a second one.
    submit_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    #: Why the last attempt to make the PDF failed: an archive error's message (written for staff,
    #: a `Said` kept as its msgid and values) or another exception's class name; never patient data.
    last_error: Mapped[str | None] = mapped_column(Reason(200))
    #: The enrolled tablet the consent was taken on (None: a browser a staff member handed to
    #: the patient, or a consent from before tablets were enrolled).
    device_id: Mapped[str | None] = mapped_column(String(32))
    #: An admin voided the consent (taken by mistake, or forged): it is kept, marked void, with
    #: who (a staff id; None: the command line) and why. The sealed PDF is never changed.
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    voided_by: Mapped[str | None] = mapped_column(String(32))
    void_reason: Mapped[str | None] = mapped_column(Text)
    #: The patient this consent belongs to: set when the consent is accepted (a new patient made
    #: from it, or the patient whose visit staff started); moved only by a merge staff confirm.
    patient_id: Mapped[str | None] = mapped_column(ForeignKey("patients.id"))
    #: The patient withdrew this consent (the `withdrawals` row holds who, why and its record).
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: The language of the text the patient read and signed (`form_sha256` is that text's).
    language: Mapped[str] = mapped_column(String(16), default="en", server_default="en")

    __table_args__ = (
        Index("ix_consents_newest", "created_at", "id"),
        Index("ix_consents_review", "needs_review", "created_at", "id"),
        Index("ix_consents_status", "status", "created_at"),
        Index("ix_consents_date_of_birth", "date_of_birth", "created_at"),
        Index("ix_consents_signed_on", "signed_on", "created_at"),
        Index("ix_consents_pdf_sha256", "pdf_sha256"),
        Index("ix_consents_patient", "patient_id", "created_at"),
        # The export's keyset pages (`export._page_query`): archived, by signing day then id.
        Index("ix_consents_export", "status", "signed_on", "id"),
    )


class ConsentName(Base):
    """One word of a patient's name, folded for search ("Zoë O'Brien" → "zoe", "obrien")."""

    __tablename__ = "consent_names"

    #: Byte order on PostgreSQL too, so a prefix search is a range scan on the index.
    word: Mapped[str] = mapped_column(
        String(100).with_variant(String(100, collation="C"), "postgresql"), primary_key=True
    )
    consent_id: Mapped[str] = mapped_column(
        ForeignKey("consents.id", ondelete="CASCADE"), primary_key=True
    )

    __table_args__ = (Index("ix_consent_names_consent_id", "consent_id"),)


class PdfBlob(Base):
    """A sealed PDF kept in the database itself (`STORAGE=database`), named by its SHA-256."""

    __tablename__ = "pdf_blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class DraftRow(Base):
    """A tablet draft kept in the database (`STORAGE=database`), so any app server can serve
    the patient's next step. Dropped on submit (answers) and once expired (the whole row)."""

    __tablename__ = "drafts"

    #: The random id the tablet's session holds.
    id: Mapped[str] = mapped_column(String(43), primary_key=True)
    #: Seconds since the epoch of the last save, for expiry.
    updated_at: Mapped[float] = mapped_column(Float, index=True)
    #: While a submit works on the draft, no other server may, until this time (seconds since
    #: the epoch): a lease, so a server that dies mid-submit holds nobody up for long.
    locked_until: Mapped[float | None] = mapped_column(Float)
    #: The draft as JSON: form, answers, steps done, submit token, receipt.
    body: Mapped[str] = mapped_column(Text)


class Staff(Base):
    """A person who works at the clinic: one account each, never shared."""

    __tablename__ = "staff"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: The language the staff pages speak to this person; none: the clinic's.
    language: Mapped[str | None] = mapped_column(String(8))


class StaffSession(Base):
    """A staff login: the cookie holds a random token, the table only its SHA-256."""

    __tablename__ = "staff_sessions"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: The consent search in progress (JSON), kept here so names never appear in a URL.
    search: Mapped[str | None] = mapped_column(Text)
    #: When this login last proved who it is (password, and code when enrolled): account and
    #: retention changes ask again once this is older than a few minutes.
    authenticated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: The password was right, and the account's second-factor code is still to come: the
    #: login opens nothing until it does.
    code_due: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: The patient search in progress (JSON), kept here like `search`.
    patient_search: Mapped[str | None] = mapped_column(Text)


class Review(Base):
    """A clinician's review of a consent's screening answers, beside the untouched signed PDF."""

    __tablename__ = "reviews"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    consent_id: Mapped[str] = mapped_column(ForeignKey("consents.id"), index=True)
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id"))
    #: The reviewer's name as it was at the time of the review.
    staff_name: Mapped[str] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(Text)
    reviewed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AuditEvent(Base):
    """One row of the append-only audit trail, chained to the one before by its SHA-256."""

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    staff_id: Mapped[str | None] = mapped_column(String(32))
    ip: Mapped[str] = mapped_column(String(64))
    user_agent: Mapped[str] = mapped_column(String(500))
    event: Mapped[str] = mapped_column(String(40))
    target: Mapped[str] = mapped_column(String(64))
    #: SHA-256 of the previous row (64 zeros for the first).
    prev_sha256: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_audit_events_event_target", "event", "target", "at"),
        Index("ix_audit_events_event_ip", "event", "ip", "at"),
    )


class AuditHead(Base):
    """The newest audit row's number and SHA-256: one row, locked by every append."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))


class SetupToken(Base):
    """A one-time link that lets the first admin make their account: the link holds a random
    token, the table only its SHA-256. Every unused one stops working once any staff account
    exists."""

    __tablename__ = "setup_tokens"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class LoginThrottle(Base):
    """Failed logins counted per account ("account <id>") or per address ("address <ip>"): each
    failure past the free ones doubles the wait before the next check. The row is locked while
    a login is checked, so parallel guesses get no more checks than the count allows."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: No password or code is checked for this key before this time.
    wait_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SecondFactor(Base):
    """A staff member's TOTP secret (RFC 6238). Unconfirmed while `confirmed_at` is empty: made
    on the enrolment page, and in use only once a code from the app has confirmed it."""

    __tablename__ = "staff_second_factors"

    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id"), primary_key=True)
    #: Base32, as the authenticator app holds it.
    secret: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: The time step of the last code accepted: a code of that step or before is refused, so
    #: a code seen over a shoulder cannot be used again.
    last_step: Mapped[int | None] = mapped_column(Integer)


class RecoveryCode(Base):
    """A single-use recovery code for a lost authenticator: shown once, kept as its SHA-256."""

    __tablename__ = "staff_recovery_codes"

    code_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id"), index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Tablet(Base):
    """One of the clinic's enrolled tablets: its cookie holds a random token, the table only the
    token's SHA-256. Revoking one ends its access at its next request; rows are never deleted,
    so a consent keeps naming the tablet it was taken on."""

    __tablename__ = "tablets"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(60))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    #: The admin who enrolled it (None: the command line or the service directly).
    enrolled_by: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: Written at most every `TABLET_SEEN_EVERY_SECONDS`, so a tablet's requests stay reads.
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by: Mapped[str | None] = mapped_column(String(32))


class TabletCode(Base):
    """A one-time enrolment code an admin shows on the staff screen: short-lived, single-use;
    the table keeps only its SHA-256."""

    __tablename__ = "tablet_codes"

    code_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    issued_by: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class RateCount(Base):
    """How many new tablet sessions (or submits) one tablet or one address made in one minute,
    counted against the per-minute limits. In the database, so every app server counts the same;
    one atomic upsert per request, so parallel requests are each counted; past minutes are
    swept as new ones begin."""

    __tablename__ = "rate_counts"

    #: What was done: "session" or "submit".
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    #: Who did it: "tablet:<id>" or "ip:<address>".
    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    #: The minute counted (UTC, seconds zero).
    minute: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True, index=True)
    count: Mapped[int] = mapped_column(Integer)


class PatientCopy(Base):
    """A one-time link to the patient's own copy, opened on their phone from the QR code on the
    thank-you screen: the link holds a random token, the table only its SHA-256. The copy is
    encrypted under `code`, shown beside the QR code; the code is kept until the link is used
    or has expired, then wiped."""

    __tablename__ = "patient_copies"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    consent_id: Mapped[str] = mapped_column(ForeignKey("consents.id"), index=True)
    code: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AuditCheckpoint(Base):
    """How far the audit chain was last found to hold: rows 1 to `seq` were walked and row `seq`
    hashed to `sha256`. The staff page extends it by the rows added since, a bounded number per
    view, so no view walks the whole chain; `intake audit verify` walks it all and resets it."""

    __tablename__ = "audit_checkpoint"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))


class ConsentTimestamp(Base):
    """When the last timestamp in a consent's stored PDF stops being provable: its certificate's
    expiry, read from the PDF whose SHA-256 is `pdf_sha256` (a row for another SHA-256 is stale
    and read again). `intake archive timestamp` finds the consents due by this, not by opening
    every PDF; `expires_at` is empty for a PDF with no timestamp at all."""

    __tablename__ = "consent_timestamps"

    consent_id: Mapped[str] = mapped_column(ForeignKey("consents.id"), primary_key=True)
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)


# The course's tables (patients, visits, lots, injections, records, withdrawals) and the record
# of a translation's review live in their own modules on the same metadata; importing them here
# registers them wherever models is used.
from intake.archive import course_models, translation_models  # noqa: E402, F401
