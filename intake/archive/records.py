"""The sealed records of the treatment course (`Record`): a visit's check-in, an injection, a
withdrawal. Every kind is stored exactly as a consent is (`service.py`):

1. `accept` commits the record's body as a `pending` row, with the caller's own rows (the
   visit, the injection...) and its audit event, in ONE transaction; with a `submit_key`, a
   repeated submit finds the record it made instead of making a second.
2. `finish` lays out the record's one page (`intake.pdf.record`) from a `RecordPage` its kind's
   renderer builds, seals it with the clinic's certificate, stores it as a blob, then commits
   the row as `archived` with the PDF's SHA-256. A failure keeps the record pending with why.
3. `Archive.repair` finishes pending records too, and counts a record's PDF as named
   (`is_named`, `named_pdfs`), so its sweep of unnamed PDFs never removes one.

A kind's owner registers its renderer in `RENDERERS` ("module:function"), imported when a record
of that kind is first sealed, so this module depends on no kind. No Flask here.
"""

from __future__ import annotations

import importlib
import json
import logging
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import exists, func, or_, select, union, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from intake.archive import audit
from intake.archive.audit import Actor
from intake.archive.background import BackgroundRun
from intake.archive.blobs import sha256_of
from intake.archive.course_models import INJECTION, VISIT, WITHDRAWAL, Record
from intake.archive.errors import (
    DATABASE,
    FOLDER,
    ArchiveError,
    ArchiveUnavailable,
    is_storage_reason,
    storage_reason,
)
from intake.archive.models import ARCHIVED, PENDING, Consent, is_id
from intake.archive.sealing import certificate_failure
from intake.archive.states import state_said
from intake.canonical import canonical_json
from intake.definition import ConsentDefinition
from intake.languages import N_, Said
from intake.pdf.record import ConsentReference, RecordPage, record_reason, render_record
from intake.pdf.seal import seal_pdf

if TYPE_CHECKING:
    from intake.archive.service import Archive, RepairReport

log = logging.getLogger(__name__)

#: What builds a record's page: its row, its body (as stored), the consent it relies on and
#: that consent's definition.
Renderer = Callable[[Record, dict[str, Any], Consent, ConsentDefinition], RecordPage]
#: The caller's own rows, added in the transaction that accepts the record (given the record,
#: its id already assigned).
DomainRows = Callable[[Session, Record], None]

#: Each kind's renderer, as "module:function" (a `Renderer`); a kind's owner adds its line.
RENDERERS: dict[str, str] = {
    VISIT: "intake.archive.visits:visit_page",
    WITHDRAWAL: "intake.archive.withdrawals:withdrawal_page",
    INJECTION: "intake.archive.injection_record:injection_page",
}
KINDS = (VISIT, INJECTION, WITHDRAWAL)
#: Records `retry_waiting` finishes per call, like the consents' `RETRY_LIMIT`.
RETRY_LIMIT = 25


class RecordMissing(ArchiveError, KeyError):
    """No record has this id."""


def renderer_for(kind: str) -> Renderer:
    """The registered renderer of `kind`; `ArchiveError` when none is (the record stays
    pending, and a later repair seals it once one is)."""
    where = RENDERERS.get(kind)
    if where is None:
        raise ArchiveError(Said(N_("no renderer is registered for %(kind)s records"), kind=kind))
    module, name = where.split(":")
    return getattr(importlib.import_module(module), name)


def is_named(session: Session, sha256: str) -> bool:
    """Whether a consent or a course record names the stored PDF with this SHA-256."""
    return bool(
        session.scalar(select(exists().where(Consent.pdf_sha256 == sha256)))
        or session.scalar(select(exists().where(Record.pdf_sha256 == sha256)))
    )


def named_pdfs(session: Session) -> set[str]:
    """The SHA-256 of every PDF a consent or a course record names."""
    return set(
        session.scalars(
            union(
                select(Consent.pdf_sha256).where(Consent.pdf_sha256.is_not(None)),
                select(Record.pdf_sha256).where(Record.pdf_sha256.is_not(None)),
            )
        )
    )


def body_of(record: Record) -> dict[str, Any]:
    """A record's body as data, exactly as it was accepted."""
    if record.body_json is None:
        raise RecordMissing(record.id)
    return json.loads(record.body_json)


def _waits_for_storage() -> Any:
    return or_(Record.last_error.startswith(FOLDER), Record.last_error.startswith(DATABASE))


class Records:
    """The store of course records, on an `Archive`'s database, blobs, signer and clock."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive
        self._retry = BackgroundRun(self._retry_in_background, "records-retry")

    # --- writing ---------------------------------------------------------------------------

    def accept(
        self,
        kind: str,
        body: dict[str, Any],
        *,
        patient_id: str,
        consent_id: str,
        actor: Actor,
        key: str | None = None,
        rows: DomainRows | None = None,
    ) -> str:
        """Commit `body` as a pending record of `kind`, with the caller's `rows`, in one
        transaction; the record's id (its PDF's document id).

        With `key`, a record already accepted under it is returned instead (and `rows` is not
        called again). Raises `ArchiveUnavailable` when the database cannot be written: nothing
        is kept, and the same submit may be sent again.
        """
        if kind not in KINDS:
            raise ValueError(f"unknown record kind {kind!r}")
        try:
            if key is not None and (known := self.known(key)) is not None:
                return known
            return self._accept(kind, body, patient_id, consent_id, actor, key, rows)
        except IntegrityError:
            # Another submit with the same key committed first: that record is this one.
            if key is not None and (known := self.known(key)) is not None:
                return known
            raise
        except (DBAPIError, OSError) as error:
            reason = self.archive._database_reason(error)
            if reason is None:
                raise
            log.error("a %s record could not be saved: %s; nothing was kept", kind, reason)
            raise ArchiveUnavailable(reason) from None

    def known(self, key: str) -> str | None:
        """The record already accepted under the submit key `key`, if any."""
        with self.archive.sessions() as session:
            return session.scalar(select(Record.id).where(Record.submit_key == key))

    def _accept(
        self,
        kind: str,
        body: dict[str, Any],
        patient_id: str,
        consent_id: str,
        actor: Actor,
        key: str | None,
        rows: DomainRows | None,
    ) -> str:
        body_json = canonical_json(body)
        record = Record(
            kind=kind,
            status=PENDING,
            patient_id=patient_id,
            consent_id=consent_id,
            created_at=self.archive.clock(),
            body_json=body_json,
            body_sha256=sha256_of(body_json),
            submit_key=key,
        )
        with self.archive.transaction() as session:
            session.add(record)
            session.flush()
            if rows is not None:
                rows(session, record)
            audit.record(session, "record created", actor, record.id)
        return record.id

    def finish(self, record_id: str, actor: Actor) -> bool:
        """Lay out, seal and store a pending record's PDF. True once it is archived; else it
        stays pending with the reason in `last_error`."""
        return self._finish(record_id, actor) is None

    def _finish(self, record_id: str, actor: Actor) -> str | None:
        """None once the record is archived; else why not, for staff."""
        try:
            with self.archive.sessions() as session:
                record = session.get(Record, record_id)
                consent = session.get(Consent, record.consent_id) if record else None
        except DBAPIError as error:
            reason = self.archive._database_reason(error)
            if reason is None:
                raise
            log.error("record %s stays pending: %s", record_id, reason)
            return reason
        if record is None:
            raise RecordMissing(record_id)
        if record.status == ARCHIVED:
            return None
        if record.status != PENDING:
            return Said(N_("the record is %(status)s"), status=state_said(record.status))
        try:
            pdf = self._sealed_pdf(record, consent)
        except Exception as error:  # noqa: BLE001 - any failure keeps the record pending
            reason = str(error) if isinstance(error, ArchiveError) else type(error).__name__
            return self._keep_pending(record_id, "making the PDF failed", reason, error)
        try:
            self._store(record_id, pdf, actor)
        except Exception as error:  # noqa: BLE001 - the PDF is made again next time
            if isinstance(error, OSError):
                reason = storage_reason(error, FOLDER) or type(error).__name__
            else:
                reason = self.archive._database_reason(error) or type(error).__name__
            return self._keep_pending(record_id, "storing the PDF failed", reason, error)
        return None

    def _sealed_pdf(self, record: Record, consent: Consent | None) -> bytes:
        if consent is None or consent.pdf_sha256 is None:
            raise ArchiveError(N_("the consent this record relies on has no sealed PDF yet"))
        archive = self.archive
        try:
            # The page speaks the patient's language, as their consent did (else English).
            offered = archive.catalog.languages(consent.form_id)
            language = consent.language if consent.language in offered else None
            definition = archive.catalog.get(consent.form_id, language)
        except KeyError:
            raise ArchiveError(
                Said(N_("form %(form)s is no longer in the catalog"), form=consent.form_id)
            ) from None
        page = renderer_for(record.kind)(record, body_of(record), consent, definition)
        try:
            clinic = archive.signer()
        except OSError as error:
            raise certificate_failure(error) from error
        assert record.body_json is not None
        pdf = render_record(
            page,
            record.body_json,
            document_id=record.id,
            consent=ConsentReference(consent.id, consent.pdf_sha256),
            settings=archive.settings.render,
            seal=clinic.certificate,
        )
        return seal_pdf(
            pdf,
            clinic,
            reason=record_reason(record.kind, record.id),
            timestamper_url=archive.settings.tsa_url or None,
        )

    def _store(self, record_id: str, pdf: bytes, actor: Actor) -> None:
        store_sealed(self.archive, Record, record_id, pdf, actor, "record archived")

    def _keep_pending(self, record_id: str, what: str, reason: str, error: Exception) -> str:
        """Log why a record stays pending and note it on the row (never the body's data)."""
        return keep_pending(self.archive, Record, record_id, what, reason, error, log)

    def submit(
        self,
        kind: str,
        body: dict[str, Any],
        *,
        patient_id: str,
        consent_id: str,
        actor: Actor,
        key: str | None = None,
        rows: DomainRows | None = None,
    ) -> str:
        """Accept, then finish: the record is safe once this returns, even if sealing failed."""
        record_id = self.accept(
            kind,
            body,
            patient_id=patient_id,
            consent_id=consent_id,
            actor=actor,
            key=key,
            rows=rows,
        )
        if self.finish(record_id, actor) and self._storage_waiting():
            self._retry.start()
        return record_id

    # --- repair and retry ------------------------------------------------------------------

    def repair(self, actor: Actor, report: RepairReport, stopped: str | None = None) -> None:
        """Finish every pending record into `report` (part of `Archive.repair`). With
        `stopped` (storage already failed), none is tried: each keeps that reason."""
        with self.archive.sessions() as session:
            pending = list(
                session.scalars(
                    select(Record.id).where(Record.status == PENDING).order_by(Record.created_at)
                )
            )
        for record_id in pending:
            reason = stopped or self._finish(record_id, actor)
            if reason is None:
                report.finished.append(record_id)
                continue
            report.failed.append((record_id, reason))
            if stopped is None and is_storage_reason(reason):
                stopped = reason

    def retry_waiting(self, actor: Actor, *, limit: int = RETRY_LIMIT) -> list[str]:
        """Finish up to `limit` records waiting for storage, oldest first; stop at the first that
        still cannot be stored. The ids finished."""
        with self.archive.sessions() as session:
            pending = list(
                session.scalars(
                    select(Record.id)
                    .where(Record.status == PENDING, _waits_for_storage())
                    .order_by(Record.created_at)
                    .limit(limit)
                )
            )
        finished = []
        for record_id in pending:
            reason = self._finish(record_id, actor)
            if reason is None:
                finished.append(record_id)
            elif is_storage_reason(reason):
                break
        return finished

    def _storage_waiting(self) -> bool:
        """Whether a record or a consent waits for storage (indexed counts)."""
        try:
            with self.archive.sessions() as session:
                waiting = session.scalar(
                    select(func.count())
                    .select_from(Record)
                    .where(Record.status == PENDING, _waits_for_storage())
                )
        except DBAPIError:
            return False
        return bool(waiting) or self.archive._storage_waiting()

    def _retry_in_background(self) -> None:
        actor = Actor(user_agent="archive: retry once storage works")
        try:
            self.archive.retry_waiting(actor)
            self.retry_waiting(actor)
        except Exception as error:  # noqa: BLE001 - a thread has nobody to raise to
            log.error("records retry failed (%s)", type(error).__name__)

    def wait_for_retry(self, timeout: float | None = 60) -> None:
        self._retry.wait(timeout)

    # --- reading ---------------------------------------------------------------------------

    def get(self, record_id: str) -> Record:
        with self.archive.sessions() as session:
            record = session.get(Record, record_id) if is_id(record_id) else None
        if record is None:
            raise RecordMissing(record_id)
        return record

    def pdf(self, record_id: str) -> bytes:
        """The sealed PDF, exactly as stored; `RecordMissing` while it is still pending."""
        record = self.get(record_id)
        if record.pdf_sha256 is None:
            raise RecordMissing(record_id)
        with self.archive.sessions() as session:
            return self.archive.blobs.get(session, record.pdf_sha256)


def store_sealed(
    archive: Archive,
    model: Any,
    row_id: str,
    pdf: bytes,
    actor: Actor,
    event: str,
    then: Callable[[Session], None] | None = None,
) -> None:
    """A consent's or a record's sealed PDF stored by its SHA-256, and the row (`model`:
    `Consent` or `Record`) marked archived with audit `event`, in one transaction, which
    `then(session)` reads or adds to last. A row another server finished first keeps its own
    PDF, and this copy goes unless a row names it."""
    with archive.transaction() as session:
        sha256 = archive.blobs.put(session, pdf)
        won = session.execute(
            update(model)
            .where(model.id == row_id, model.status == PENDING)
            .values(
                status=ARCHIVED,
                pdf_sha256=sha256,
                pdf_size=len(pdf),
                archived_at=archive.clock(),
                last_error=None,
            )
        ).rowcount
        if won:
            audit.record(session, event, actor, row_id)
        elif not is_named(session, sha256):
            archive.blobs.discard(session, sha256)
        if then is not None:
            then(session)


def keep_pending(
    archive: Archive,
    model: Any,
    row_id: str,
    what: str,
    reason: str,
    error: Exception,
    logger: logging.Logger,
) -> str:
    """Log why a consent or a record (`model`) stays pending and note it on its row; the
    reason, cut to fit. The frames show where it failed; the exception's message is left out,
    since it might quote what the patient gave."""
    noun = model.__tablename__.removesuffix("s")
    # A `Said` is kept whole (its column stores it as its msgid and values, cut to fit there).
    reason = reason if isinstance(reason, Said) else reason[:200]
    if is_storage_reason(reason):
        logger.error("%s %s stays pending: %s: %s", noun, row_id, what, reason)
    else:
        frames = "".join(traceback.format_tb(error.__traceback__))
        logger.error(
            "%s %s stays pending: %s (%s)\n%s", noun, row_id, what, reason, frames.rstrip()
        )
    try:
        with archive.transaction() as session:
            session.execute(
                update(model)
                .where(model.id == row_id, model.status == PENDING)
                .values(last_error=reason)
            )
    except Exception as failure:  # noqa: BLE001 - the database may be what fails
        logger.error(
            "%s %s: its reason could not be recorded either (%s)",
            noun,
            row_id,
            archive._database_reason(failure) or type(failure).__name__,
        )
    return reason
