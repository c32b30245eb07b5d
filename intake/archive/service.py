"""`Archive`: accept a signed submission, make its sealed PDF, find it again, review, retain.

The order of writes is what keeps a consent from being lost or half-written:

1. `accept` commits the submission (answers and signature strokes) as a `pending` row, with its
   audit event. From here on the consent exists, whatever happens next.
2. `finish` renders and seals the PDF outside any transaction, stores it durably (`blobs`), then
   commits the row as `archived` with the PDF's SHA-256.
3. `repair` finishes every pending row and removes stored PDFs that no row names (left by a
   crash between 2's store and commit). Finishing twice is harmless: only the first commit wins,
   the loser removes its own PDF.

When storage fails (the archive folder or database is full, read-only or out of reach), `accept`
raises `ArchiveUnavailable` and nothing is kept; `finish` keeps the consent pending with the
reason in `last_error`, written for staff (`waiting` counts them for the staff pages' banner).
Such consents are finished by `repair` (the app's start and `intake archive repair`), and by
`retry_waiting` in a background thread (`retry_waiting_soon`): after the next consent is stored,
which shows storage works again, and at most once a minute while staff pages show them waiting.

No Flask here; the tablet, the staff pages, the CLI and the tests all call these methods.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, exists, func, or_, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from intake.archive import audit, marks, patients, retention
from intake.archive.audit import Actor
from intake.archive.background import BackgroundRun
from intake.archive.blobs import Blobs, DatabaseBlobs, FileBlobs
from intake.archive.db import make_engine, session_factory
from intake.archive.errors import (
    DATABASE,
    FOLDER,
    ArchiveError,
    ArchiveUnavailable,
    ConsentMissing,
    database_reason,
    is_storage_reason,
    storage_reason,
)
from intake.archive.marks import NOTE_MAX as NOTE_MAX
from intake.archive.models import (
    ARCHIVED,
    DELETED,
    PENDING,
    Consent,
    ConsentName,
    Review,
    Staff,
    Tablet,
    is_id,
    utcnow,
)
from intake.archive.records import Records, is_named, keep_pending, named_pdfs, store_sealed
from intake.archive.sealing import sealed_consent_pdf
from intake.archive.search import PAGE_SIZE, Page, SearchCriteria, name_words, search_query
from intake.archive.states import state_said
from intake.certificates import ClinicSigner, clinic_signer, kept_certificates, kept_roots
from intake.definition import FormCatalog
from intake.languages import N_, Said
from intake.pdf import RenderSettings
from intake.pdf.seal import SealReport, check_seal
from intake.submission import Submission

if TYPE_CHECKING:
    from intake.archive.submitting import Accepted

log = logging.getLogger(__name__)

#: Consents `retry_waiting` finishes per call (each is rendered and sealed, so a call stays
#: short); the next trigger takes the next ones, and `repair` takes them all.
RETRY_LIMIT = 25


def _waits_for_storage() -> Any:
    """A consent's last failure was storage's (with `status == PENDING`: the status index)."""
    return or_(Consent.last_error.startswith(FOLDER), Consent.last_error.startswith(DATABASE))


#: Whether any consent waits for storage, built once (a submit asks it every time).
_STORAGE_WAITING = select(exists().where(Consent.status == PENDING, _waits_for_storage()))


@dataclass(frozen=True)
class ArchiveSettings:
    database_url: str
    #: "files" (PDFs under `files_dir`) or "database" (PDF bytes in the database).
    storage: str = "files"
    files_dir: Path = Path("instance/archive")
    retention_years: int = 10
    certificates_dir: Path = Path("instance/certificates")
    signing_p12: Path | None = None
    signing_p12_password: str = ""
    tsa_url: str = ""
    render: RenderSettings = field(default_factory=RenderSettings)


@dataclass(frozen=True)
class RepairReport:
    finished: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    #: What kept the repair from removing unnamed PDFs (a later repair removes them).
    problems: list[str] = field(default_factory=list)


class Archive:
    def __init__(
        self,
        settings: ArchiveSettings,
        catalog: FormCatalog,
        *,
        engine: Engine | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.catalog = catalog
        self.engine = engine or make_engine(settings.database_url)
        self.sessions: sessionmaker[Session] = session_factory(self.engine)
        self.blobs: Blobs = (
            DatabaseBlobs() if settings.storage == "database" else FileBlobs(settings.files_dir)
        )
        self.clock = clock
        self._signer: ClinicSigner | None = None
        self._signer_lock = threading.Lock()
        self._retry = BackgroundRun(self._retry_in_background, "archive-retry")
        self.records = Records(self)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits at the end of the block, or rolls back on an error."""
        with self.sessions.begin() as session:
            yield session

    def dispose(self) -> None:
        self.wait_for_retry()
        self.records.wait_for_retry()
        self.engine.dispose()

    # --- sealing ---------------------------------------------------------------------------

    def signer(self) -> ClinicSigner:
        """The clinic's sealing certificate, loaded (or made) once per process."""
        with self._signer_lock:
            if self._signer is None:
                s = self.settings
                self._signer = clinic_signer(
                    s.certificates_dir, p12=s.signing_p12, p12_password=s.signing_p12_password
                )
            return self._signer

    @property
    def self_signed(self) -> bool:
        """Whether consents are sealed with the certificate the app made for itself."""
        return self.settings.signing_p12 is None

    def check(self, pdf: bytes) -> SealReport:
        """The seal verdict, against every certificate the clinic has sealed with."""
        folder = self.settings.certificates_dir
        return check_seal(pdf, kept_certificates(folder), roots=kept_roots(folder))

    # --- writing ---------------------------------------------------------------------------

    def accept(
        self,
        submission: Submission,
        actor: Actor,
        *,
        key: str | None = None,
        patient: str = "",
        also: Callable[[Session, Consent], None] | None = None,
    ) -> str:
        """Commit a validated submission as a pending consent, filed under its patient (the one
        `patient` names, else a new one); its id from now on. `also(session, consent)` adds to
        the same transaction, once the row has its id. With `key`, a consent already accepted
        under the same key is returned instead: the key's unique constraint refuses the new
        row, and what `also` added goes with it. Raises `ArchiveUnavailable` when the database
        cannot be written (full, read-only, out of reach): nothing is kept, and the same submit
        may be sent again later.
        """
        try:
            return self._accept(submission, actor, key, patient, also)
        except IntegrityError:
            # A submit with the same key committed before: that consent is this one.
            if key is not None and (known := self._known(key)) is not None:
                return known
            raise
        except (DBAPIError, OSError) as error:
            reason = self._database_reason(error)
            if reason is None:
                raise
            log.error("a consent could not be saved: %s; nothing was kept", reason)
            # `from None`: the database error's text quotes the statement's values.
            raise ArchiveUnavailable(reason) from None

    def _database_reason(self, error: BaseException) -> str | None:
        return database_reason(error, self.engine.url)

    def _known(self, key: str) -> str | None:
        with self.sessions() as session:
            return session.scalar(select(Consent.id).where(Consent.submit_key == key))

    def _accept(
        self,
        submission: Submission,
        actor: Actor,
        key: str | None,
        patient: str,
        also: Callable[[Session, Consent], None] | None = None,
    ) -> str:
        definition = self.catalog.get(submission.form_id, submission.language)
        flagged = bool(submission.flags(definition))
        consent = Consent(
            status=PENDING,
            language=definition.language,
            form_id=definition.id,
            form_version=definition.version,
            form_sha256=definition.sha256,
            created_at=self.clock(),
            signed_at=submission.signed_at.isoformat(),
            signed_on=submission.signed_at.date(),
            legal_name=submission.patient.legal_name,
            date_of_birth=submission.patient.date_of_birth,
            is_minor=submission.is_minor,
            flagged=flagged,
            needs_review=flagged,
            submission_json=submission.canonical_json(),
            submission_sha256=submission.sha256,
            submit_key=key,
            device_id=actor.tablet_id,
        )
        with self.transaction() as session:
            patients.file_consent(session, consent, submission, patient or None)
            session.add(consent)
            session.flush()
            session.add_all(
                ConsentName(word=word, consent_id=consent.id)
                for word in name_words(submission.patient.legal_name)
            )
            audit.record(session, "consent created", actor, consent.id)
            if also is not None:
                also(session, consent)
        return consent.id

    def finish(self, consent_id: str, actor: Actor) -> bool:
        """Render, seal and store a pending consent's PDF. True once it is archived.

        A failure leaves the consent pending, with the reason recorded (`last_error`): a storage
        failure as `storage_reason` words it, an archive error's own message, or else the
        exception's class. Raises `ConsentMissing`, and a database error only when the row
        cannot be read for another reason than storage (a missing table, say).
        """
        return self._finish(consent_id, actor) is None

    def _finish(
        self, consent_id: str, actor: Actor, accepted: Accepted | None = None
    ) -> str | None:
        """None once the consent is archived; else why not, for staff. `accepted`: the row
        this process just committed and what it was made from, so nothing is read back."""
        try:
            if accepted is not None:
                consent: Consent | None = accepted.consent
            else:
                with self.sessions() as session:
                    consent = session.get(Consent, consent_id)
        except DBAPIError as error:
            reason = self._database_reason(error)
            if reason is None:
                raise
            log.error("consent %s stays pending: %s", consent_id, reason)
            return reason
        if consent is None:
            raise ConsentMissing(consent_id)
        if consent.status == ARCHIVED:
            return None
        if consent.status != PENDING:
            return Said(N_("the consent is %(status)s"), status=state_said(consent.status))
        try:
            pdf = self._sealed_pdf(consent) if accepted is None else accepted.sealed_pdf()
        except Exception as error:  # noqa: BLE001 - any failure keeps the submission pending
            # An ArchiveError's message is written for staff; any other failure is named by its
            # class only, since its message might quote the submission.
            reason = str(error) if isinstance(error, ArchiveError) else type(error).__name__
            return self._keep_pending(consent_id, "making the PDF failed", reason, error)
        try:
            self._store(consent_id, pdf, actor, accepted)
        except Exception as error:  # noqa: BLE001 - the PDF is made again next time
            if isinstance(error, OSError):
                reason = storage_reason(error, FOLDER) or type(error).__name__
            else:
                reason = self._database_reason(error) or type(error).__name__
            return self._keep_pending(consent_id, "storing the PDF failed", reason, error)
        return None

    def _store(
        self, consent_id: str, pdf: bytes, actor: Actor, accepted: Accepted | None = None
    ) -> None:
        then = None if accepted is None else accepted.check_waiting
        store_sealed(self, Consent, consent_id, pdf, actor, "consent archived", then=then)

    def _keep_pending(self, consent_id: str, what: str, reason: str, error: Exception) -> str:
        """Log why a consent stays pending and record it on the row; the reason, cut to fit."""
        return keep_pending(self, Consent, consent_id, what, reason, error, log)

    def _sealed_pdf(
        self,
        consent: Consent,
        password: str | None = None,
        *,
        submission: Submission | None = None,
        tablet: str | None = None,
    ) -> bytes:
        """`submission`: the consent's own (`sealed_consent_pdf`); `tablet`: its tablet's name,
        when known already."""
        s = self.settings
        return sealed_consent_pdf(
            consent,
            self.catalog,
            self.signer,
            render=s.render,
            tsa_url=s.tsa_url,
            tablet=self._tablet_name(consent.device_id) if tablet is None else tablet,
            password=password,
            submission=submission,
        )

    def _tablet_name(self, tablet_id: str | None) -> str:
        """The name of the enrolled tablet a consent was taken on, for its Signing record."""
        if tablet_id is None:
            return ""
        with self.sessions() as session:
            tablet = session.get(Tablet, tablet_id)
        return tablet.name if tablet is not None else ""

    def submit(
        self, submission: Submission, actor: Actor, *, key: str | None = None, patient: str = ""
    ) -> str:
        """Accept, then finish: the consent is safe once this returns, even if the PDF failed.

        Raises `ArchiveUnavailable` only when the consent could not be accepted at all.
        """
        consent_id = self.accept(submission, actor, key=key, patient=patient)
        if self.finish(consent_id, actor) and self._storage_waiting():
            # This store just showed storage works again: finish those that waited for it.
            self.retry_waiting_soon()
        return consent_id

    def _named(self, session: Session, sha256: str) -> bool:
        """Whether a consent or a course record names the stored PDF with this SHA-256."""
        return is_named(session, sha256)

    def repair(self, actor: Actor, *, grace_seconds: float = 0) -> RepairReport:
        """Finish every pending consent and course record; remove stored PDFs no row names.

        PDFs stored less than `grace_seconds` ago are left alone: another process may be about
        to commit the row that names one. Run with no grace only while the app is stopped.
        Once storing fails (a full or read-only disk), the other pending consents are not tried:
        they keep that reason, so a start-up with a full disk stays quick. Raises
        `ArchiveUnavailable` when the database cannot be read at all.
        """
        report = RepairReport()
        try:
            with self.sessions() as session:
                pending = list(
                    session.scalars(
                        select(Consent.id)
                        .where(Consent.status == PENDING)
                        .order_by(Consent.created_at)
                    )
                )
        except DBAPIError as error:
            reason = self._database_reason(error)
            if reason is None:
                raise
            raise ArchiveUnavailable(reason) from None
        stopped: str | None = None
        for consent_id in pending:
            reason = stopped or self._finish(consent_id, actor)
            if reason is None:
                report.finished.append(consent_id)
                continue
            report.failed.append((consent_id, reason))
            if stopped is None and is_storage_reason(reason):
                stopped = reason
        if stopped is not None:
            self._mark_waiting(
                [consent_id for consent_id, reason in report.failed if reason == stopped], stopped
            )
        self.records.repair(actor, report, stopped)
        try:
            self._remove_unnamed(grace_seconds, report)
        except OSError as error:
            problem = f"unnamed PDFs could not be removed: {storage_reason(error)}"
            log.warning("archive repair: %s; a later repair removes them", problem)
            report.problems.append(problem)
        if report.finished or report.failed or report.removed:
            log.info(
                "archive repair: %d finished, %d still failing, %d unnamed PDFs removed",
                len(report.finished),
                len(report.failed),
                len(report.removed),
            )
        return report

    def _remove_unnamed(self, grace_seconds: float, report: RepairReport) -> None:
        with self.sessions() as session:
            named = named_pdfs(session)
            orphans = [sha for sha in self.blobs.stored(session, grace_seconds) if sha not in named]
        for sha256 in orphans:
            with self.transaction() as session:
                if not is_named(session, sha256):
                    self.blobs.discard(session, sha256)
                    report.removed.append(sha256)

    def _mark_waiting(self, consent_ids: list[str], reason: str) -> None:
        """Give pending consents that were not tried the reason the last one failed."""
        try:
            for start in range(0, len(consent_ids), 500):
                with self.transaction() as session:
                    session.execute(
                        update(Consent)
                        .where(
                            Consent.id.in_(consent_ids[start : start + 500]),
                            Consent.status == PENDING,
                        )
                        .values(last_error=reason)
                    )
        except DBAPIError:
            pass  # the database is what fails: the log has said so already

    # --- consents waiting for storage ------------------------------------------------------

    def waiting(self) -> list[tuple[str, int]]:
        """Pending consents that failed to finish, counted by reason, most first (the staff
        pages' banner). One query on the status index: only pending rows are read."""
        with self.sessions() as session:
            rows = session.execute(
                select(Consent.last_error, func.count())
                .where(Consent.status == PENDING, Consent.last_error.is_not(None))
                .group_by(Consent.last_error)
                .order_by(func.count().desc(), Consent.last_error)
            ).all()
        return [(reason, count) for reason, count in rows]

    def retry_waiting(self, actor: Actor, *, limit: int = RETRY_LIMIT) -> RepairReport:
        """Finish up to `limit` consents waiting for storage, oldest first; stop at the first
        that still cannot be stored. Touches nothing else, so it is safe while other app
        servers run (finishing one twice is harmless)."""
        with self.sessions() as session:
            pending = list(
                session.scalars(
                    select(Consent.id)
                    .where(Consent.status == PENDING, _waits_for_storage())
                    .order_by(Consent.created_at)
                    .limit(limit)
                )
            )
        report = RepairReport()
        for consent_id in pending:
            reason = self._finish(consent_id, actor)
            if reason is None:
                report.finished.append(consent_id)
                continue
            report.failed.append((consent_id, reason))
            if is_storage_reason(reason):
                break
        if report.finished or report.failed:
            log.info(
                "archive retry: %d finished, %d still failing",
                len(report.finished),
                len(report.failed),
            )
        return report

    def _storage_waiting(self, session: Session | None = None) -> bool:
        """Whether a pending consent waits for storage (one indexed look-up), read in `session`
        when given (the caller's transaction: its error is the caller's)."""
        if session is not None:
            return bool(session.scalar(_STORAGE_WAITING))
        try:
            with self.sessions() as own:
                return bool(own.scalar(_STORAGE_WAITING))
        except DBAPIError:
            return False

    def retry_waiting_soon(self, *, min_interval: float = 0) -> bool:
        """Start `retry_waiting` for the consents waiting for storage in a background thread,
        unless one runs already or one started less than `min_interval` seconds ago. True when
        one was started. The caller waits for nothing (see `wait_for_retry`)."""
        return self._retry.start(min_interval=min_interval)

    def _retry_in_background(self) -> None:
        try:
            actor = Actor(user_agent="archive: retry once storage works")
            self.retry_waiting(actor)
            self.records.retry_waiting(actor)
        except Exception as error:  # noqa: BLE001 - a thread has nobody to raise to
            log.error("archive retry failed (%s)", type(error).__name__)

    def wait_for_retry(self, timeout: float | None = 60) -> None:
        """Wait for a background retry to end (tests; `dispose`)."""
        self._retry.wait(timeout)

    # --- reading ---------------------------------------------------------------------------

    def get(self, consent_id: str) -> Consent:
        with self.sessions() as session:
            consent = session.get(Consent, consent_id) if is_id(consent_id) else None
        if consent is None or consent.status == DELETED:
            raise ConsentMissing(consent_id)
        return consent

    def pdf(self, consent_id: str) -> bytes:
        """The sealed PDF, exactly as stored; `ConsentMissing` while it is still pending."""
        consent = self.get(consent_id)
        if consent.pdf_sha256 is None:
            raise ConsentMissing(consent_id)
        with self.sessions() as session:
            return self.blobs.get(session, consent.pdf_sha256)

    def reviews(self, consent_id: str) -> list[Review]:
        with self.sessions() as session:
            return list(
                session.scalars(
                    select(Review)
                    .where(Review.consent_id == consent_id)
                    .order_by(Review.reviewed_at)
                )
            )

    def search(
        self, criteria: SearchCriteria, *, cursor: str | None = None, limit: int = PAGE_SIZE
    ) -> Page:
        """Consents matching `criteria`, newest first, `limit` at a time.

        The rows come without their submission (`get` loads a consent whole).
        """
        postgresql = self.engine.dialect.name == "postgresql"
        query = search_query(criteria, cursor=cursor, limit=limit, postgresql=postgresql)
        with self.sessions() as session:
            return Page.of(list(session.scalars(query)), limit)

    # --- staff actions ---------------------------------------------------------------------

    def record(self, event: str, actor: Actor, target: str = "") -> None:
        """An audit event on its own (a view, a download)."""
        with self.transaction() as session:
            audit.record(session, event, actor, target)

    def verify_audit(self, progress: audit.Progress = audit.NO_PROGRESS) -> audit.ChainReport:
        """The audit trail's hash chain, walked: holds, or the first row that does not. How far
        it holds is kept, for the staff page to extend. `progress` counts the rows."""
        with self.transaction() as session:
            return audit.verify_and_keep(session, progress)

    def review(self, consent_id: str, staff: Staff, note: str, actor: Actor) -> Review:
        """Keep a clinician's review beside the consent; the signed PDF is not touched."""
        return marks.review(self, consent_id, staff, note, actor)

    def void(self, consent_id: str, reason: str, actor: Actor) -> Consent:
        """Mark a consent void, with why and by whom; it is kept, its sealed PDF untouched."""
        return marks.void(self, consent_id, reason, actor)

    # --- retention -------------------------------------------------------------------------

    def retained_until(self, consent: Consent) -> date:
        return retention.kept_until(self, consent)

    def due(self, today: date | None = None, *, limit: int | None = None) -> list[Consent]:
        """Consents past retention on `today`, oldest first."""
        return retention.due(self, today or self.clock().date(), limit)

    def delete(self, consent_id: str, actor: Actor, today: date | None = None) -> None:
        """Delete a consent past retention: its data, PDF and reviews; the id and audit stay."""
        retention.delete_consent(self, consent_id, actor, today or self.clock().date())

    def counts(self) -> dict[str, int]:
        with self.sessions() as session:
            rows = session.execute(select(Consent.status, func.count()).group_by(Consent.status))
            return {status: count for status, count in rows}


def submission_of(consent: Consent) -> dict[str, Any]:
    """The stored submission as data (the answers and strokes exactly as signed)."""
    if consent.submission_json is None:
        raise ConsentMissing(consent.id)
    return json.loads(consent.submission_json)
