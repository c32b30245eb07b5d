"""`intake export --format fhir`: the archive as FHIR Bulk Data NDJSON, with the sealed PDFs.

The folder holds one `<Type>.ndjson` a resource type (one resource a line, the way an EHR
imports a bulk export), `documents/<id>.pdf` for each sealed PDF (consents and course records,
exactly as stored, each checked against its row's SHA-256 on the way out), and `manifest.json`
in the Bulk Data shape (`transactionTime`, `request`, `output: [{type, url, count}]`) with our
own checks in its `extension`: each NDJSON file's SHA-256, size and count. A PDF's digests are
in the resources that point at it (`Attachment.hash`, SHA-1, and the SHA-256 extension), so the
manifest's hashes cover every byte.

Streaming: rows are read a keyset page at a time (each page in a short session of its own),
each resource is written as its line is made, each PDF as it is read. The folder is written as
a hidden temporary folder beside `out` and renamed into place at the end, after every file is
fsynced and the manifest written last: an interrupted export leaves no folder at `out`. Every
file is owner-only (it holds health data). The export includes the consents that the exported
course records rely on, and every patient either names, so every reference resolves inside it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select, true, tuple_

from intake.archive import audit
from intake.archive.audit import Actor
from intake.archive.course_models import (
    INJECTION,
    VISIT,
    WITHDRAWAL,
    Injection,
    Lot,
    Patient,
    Record,
    Visit,
    Withdrawal,
)
from intake.archive.export import ExportError
from intake.archive.models import ARCHIVED, Consent, Staff
from intake.archive.service import Archive
from intake.definition import ConsentDefinition
from intake.fhir import resources as fhir
from intake.fhir.administration import medication_administration
from intake.fhir.folder import Folder
from intake.fhir.questionnaires import (
    check_in_questionnaire,
    check_in_response,
    questionnaire,
    questionnaire_response,
)
from intake.fhir.signatures import patient_signature, seal, staff_signature
from intake.progress import NO_PROGRESS, Progress
from intake.safe_write import fsync_folder, sync_tree
from intake.signing import TYPED

#: Rows read at a time.
PAGE = 500


@dataclass(frozen=True)
class FhirReport:
    path: Path
    #: How many resources of each type were written.
    counts: dict[str, int]
    consents: int
    records: int


def export_fhir(
    archive: Archive,
    since: date | None,
    out: Path,
    actor: Actor,
    progress: Progress = NO_PROGRESS,
    *,
    request: str = "intake export --format fhir",
) -> FhirReport:
    """Write every archived consent signed on or after `since` (every one when None), every
    sealed course record made since, the consents those rely on and their patients, to the
    folder `out` as FHIR R4B NDJSON. `out` must not exist yet. Raises `ExportError` (nothing at
    `out`) when a stored PDF is missing or not its row's; records "consents exported" once the
    folder is in place."""
    if out.exists():
        raise ExportError(f"{out}: already exists; give a new folder")
    exported_at = archive.clock().astimezone(UTC)
    records_wanted = _records_wanted(since)
    consents_wanted = _consents_wanted(since, records_wanted)
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".partial"))
    folder = Folder(staging)
    try:
        (staging / fhir.DOCUMENTS_FOLDER).mkdir(mode=0o700)
        walk = _Walk(archive, folder, progress)
        consents, records = walk.run(consents_wanted, records_wanted)
        folder.close()
        sync_tree(staging)
        folder.manifest(exported_at, request, since)
        fsync_folder(staging)
        with archive.transaction() as session:
            what = f"fhir: {consents} since {since.isoformat() if since else 'the first'}"
            audit.record(session, "consents exported", actor, what[:64])
            # In place before the event commits: a failed rename rolls the event back.
            os.rename(staging, out)
        fsync_folder(out.parent)
    except BaseException:
        folder.close_quietly()
        shutil.rmtree(staging, ignore_errors=True)
        raise
    counts = {kind: output.count for kind, output in folder.outputs.items()}
    return FhirReport(out, counts, consents, records)


def _records_wanted(since: date | None) -> tuple[ColumnElement[bool], ...]:
    after = (
        Record.created_at >= datetime.combine(since, time(), UTC) if since is not None else true()
    )
    return (Record.status == ARCHIVED, after)


def _consents_wanted(
    since: date | None, records_wanted: tuple[ColumnElement[bool], ...]
) -> tuple[ColumnElement[bool], ...]:
    relied_on = Consent.id.in_(select(Record.consent_id).where(*records_wanted))
    signed = Consent.signed_on >= since if since is not None else true()
    return (Consent.status == ARCHIVED, or_(signed, relied_on))


def _pages(
    archive: Archive, model: Any, order: tuple[Any, ...], wanted: tuple[Any, ...]
) -> Iterator[list[Any]]:
    """The `wanted` rows of `model` by `order`, a keyset page at a time, each page read in a
    session of its own (rows detached, whole: a page is all that is held)."""
    after: tuple[Any, ...] | None = None
    while True:
        query = select(model).where(*wanted).order_by(*order).limit(PAGE)
        if after is not None:
            query = query.where(tuple_(*order) > after)
        with archive.sessions() as session:
            page = list(session.scalars(query))
            session.expunge_all()
        if page:
            yield page
        if len(page) < PAGE:
            return
        after = tuple(getattr(page[-1], column.key) for column in order)


def _by(archive: Archive, model: Any, column: Any, keys: list[str]) -> dict[str, Any]:
    """The rows of `model` whose `column` is one of `keys`, by that key (one query a page)."""
    if not keys:
        return {}
    with archive.sessions() as session:
        rows = list(session.scalars(select(model).where(column.in_(keys))))
        session.expunge_all()
    return {getattr(row, column.key): row for row in rows}


class _Walk:
    """One export's walk over the archive, writing each resource as it is made."""

    def __init__(self, archive: Archive, folder: Folder, progress: Progress) -> None:
        self.archive, self.folder, self.progress = archive, folder, progress
        self.catalog = archive.catalog
        self._texts: dict[tuple[str, str, str, str], ConsentDefinition | None] = {}
        #: The forms (id, version, SHA-256) of the check-ins written: a Questionnaire each.
        self._check_ins: set[tuple[str, str, str]] = set()

    def run(
        self, consents_wanted: tuple[Any, ...], records_wanted: tuple[Any, ...]
    ) -> tuple[int, int]:
        archive = self.archive
        patients_wanted = or_(
            Patient.id.in_(select(Consent.patient_id).where(*consents_wanted)),
            Patient.id.in_(select(Record.patient_id).where(*records_wanted)),
        )
        with archive.sessions() as session:
            total = sum(
                session.scalar(select(func.count()).select_from(model).where(*wanted)) or 0
                for model, wanted in (
                    (Consent, consents_wanted),
                    (Record, records_wanted),
                    (Patient, (patients_wanted,)),
                )
            )
            forms = session.execute(
                select(Consent.form_id, Consent.form_version, Consent.language, Consent.form_sha256)
                .where(*consents_wanted)
                .distinct()
                .order_by(Consent.form_id, Consent.form_version, Consent.language)
            ).all()
        self.progress.start(total)
        written: set[str] = set()
        for form_id, version, language, sha256 in forms:
            resource = questionnaire(
                form_id, version, language, sha256, self._text(form_id, version, language, sha256)
            )
            if resource["id"] not in written:
                written.add(resource["id"])
                self.folder.write(resource)
        for page in _pages(archive, Patient, (Patient.id,), (patients_wanted,)):
            for row in page:
                self.folder.write(_patient(row))
            self.progress.advance(len(page))
        consents = records = 0
        for page in _pages(archive, Consent, (Consent.signed_on, Consent.id), consents_wanted):
            withdrawals = _by(archive, Withdrawal, Withdrawal.consent_id, [c.id for c in page])
            for row in page:
                self._consent(row, withdrawals.get(row.id))
                self.progress.advance()
            consents += len(page)
        for page in _pages(archive, Record, (Record.created_at, Record.id), records_wanted):
            self._records(page, records_wanted)
            records += len(page)
            self.progress.advance(len(page))
        for form_id, version, sha256 in sorted(self._check_ins):
            definition = self._text(form_id, version, "en", sha256)
            self.folder.write(check_in_questionnaire(form_id, version, sha256, definition))
        return consents, records

    def _text(
        self, form_id: str, version: str, language: str, sha256: str
    ) -> ConsentDefinition | None:
        """The form's text a consent was signed on, when the forms folder still holds it."""
        key = (form_id, version, language, sha256)
        if key not in self._texts:
            try:
                definition: ConsentDefinition | None = self.catalog.get(form_id, language)
            except KeyError:
                definition = None
            if definition is not None and (
                definition.version != version or definition.sha256 != sha256
            ):
                definition = None
            self._texts[key] = definition
        return self._texts[key]

    def _title(self, form_id: str) -> str:
        try:
            return self.catalog.get(form_id).title
        except KeyError:
            return form_id

    def _consent(self, row: Consent, withdrawal: Withdrawal | None) -> None:
        write = self.folder.write
        assert row.submission_json is not None
        submission = json.loads(row.submission_json)
        patient_id = row.patient_id or row.id
        if row.patient_id is None:
            write(_patient_of_submission(row.id, submission))
        definition = self._text(row.form_id, row.form_version, row.language, row.form_sha256)
        canonical = f"{fhir.canonical_url(row.form_id, row.language)}|{row.form_version}"
        pdf = self.folder.pdf(self.archive, f"consent {row.id}", row.id, row.pdf_sha256)
        title = definition.title if definition else self._title(row.form_id)
        write(
            questionnaire_response(
                row.id, patient_id, canonical, row.signed_at, submission, definition
            )
        )
        ticked = submission.get("acknowledgments") or {}
        texts = {a.id: a.text for a in definition.acknowledgments} if definition else {}
        acknowledgments = [
            (ack_id, texts.get(ack_id, ack_id))
            for ack_id in (texts or ticked)
            if isinstance(ticked, dict) and ticked.get(ack_id) is True
        ]
        withdrawn_on = withdrawal.withdrawn_on if withdrawal else None
        if withdrawn_on is None and row.withdrawn_at is not None:
            withdrawn_on = row.withdrawn_at.date()
        status = fhir.consent_status(row.voided_at is not None, row.withdrawn_at is not None)
        write(
            fhir.consent(
                row.id,
                patient_id,
                status=status,
                signed_at=row.signed_at,
                canonical=canonical,
                clinic_name=definition.clinic_name if definition else "",
                acknowledgments=acknowledgments,
                pdf=pdf,
                language=row.language,
                title=title,
                withdrawn_on=withdrawn_on,
            )
        )
        document_status = "entered-in-error" if row.voided_at is not None else "current"
        write(
            fhir.document_reference(
                pdf,
                patient_id,
                kind="consent",
                created=row.archived_at or row.created_at,
                title=title,
                status=document_status,
                language=row.language,
            )
        )
        signature = submission.get("signature") or {}
        witness = signature.get("witness") if signature.get("method") == TYPED else None
        guardian = submission.get("guardian") or {}
        write(
            patient_signature(
                f"{row.id}-signed",
                [fhir.reference("Consent", row.id), fhir.reference("DocumentReference", row.id)],
                patient_id,
                row.signed_at,
                witness=(str(witness.get("staff_id", "")), str(witness.get("name", "")))
                if isinstance(witness, dict)
                else None,
                guardian=guardian.get("name") if isinstance(guardian, dict) else None,
            )
        )
        write(seal(f"{row.id}-sealed", row.id, self._clinic(definition), self._sealed(row)))

    def _clinic(self, definition: ConsentDefinition | None) -> str:
        if definition is not None:
            return definition.clinic_name
        ids = self.catalog.ids()
        return self.catalog.get(ids[0]).clinic_name if ids else ""

    @staticmethod
    def _sealed(row: Consent | Record) -> datetime:
        return row.archived_at or row.created_at

    def _records(self, page: list[Record], records_wanted: tuple[Any, ...]) -> None:
        ids = [r.id for r in page]
        visits = _by(self.archive, Visit, Visit.record_id, ids)
        injections = _by(self.archive, Injection, Injection.record_id, ids)
        withdrawals = _by(self.archive, Withdrawal, Withdrawal.record_id, ids)
        lots = _by(self.archive, Lot, Lot.id, sorted({i.lot_id for i in injections.values()}))
        staff = _by(
            self.archive,
            Staff,
            Staff.id,
            sorted({w.recorded_by for w in withdrawals.values() if w.recorded_by}),
        )
        replaced = self._replaced(list(injections.values()), records_wanted)
        for row in page:
            self._record(row, visits, injections, withdrawals, lots, staff, replaced)

    def _replaced(
        self, injections: list[Injection], records_wanted: tuple[Any, ...]
    ) -> dict[str, str]:
        """For each correction in `injections`: the record of the injection it supersedes, when
        that record is in the export too."""
        old_ids = [i.supersedes for i in injections if i.supersedes]
        if not old_ids:
            return {}
        with self.archive.sessions() as session:
            found = dict(
                session.execute(
                    select(Injection.id, Injection.record_id)
                    .join(Record, Record.id == Injection.record_id)
                    .where(Injection.id.in_(old_ids), *records_wanted)
                ).all()
            )
        return {i.id: found[i.supersedes] for i in injections if i.supersedes in found}

    def _record(
        self,
        row: Record,
        visits: dict[str, Visit],
        injections: dict[str, Injection],
        withdrawals: dict[str, Withdrawal],
        lots: dict[str, Lot],
        staff: dict[str, Staff],
        replaced: dict[str, str],
    ) -> None:
        write = self.folder.write
        pdf = self.folder.pdf(self.archive, f"record {row.id}", row.id, row.pdf_sha256)
        title = fhir.RECORD_TITLES.get(row.kind, row.kind)
        injection = injections.get(row.id) if row.kind == INJECTION else None
        superseded = injection is not None and injection.superseded_by is not None
        write(
            fhir.document_reference(
                pdf,
                row.patient_id,
                kind=row.kind,
                created=self._sealed(row),
                title=title,
                status="superseded" if superseded else "current",
                consent_id=row.consent_id,
                replaces=replaced.get(injection.id) if injection is not None else None,
            )
        )
        targets = [fhir.reference("DocumentReference", row.id)]
        visit = visits.get(row.id) if row.kind == VISIT else None
        withdrawal = withdrawals.get(row.id) if row.kind == WITHDRAWAL else None
        if row.kind == VISIT and row.body_json is not None:
            body = json.loads(row.body_json)
            response = check_in_response(row.id, row.patient_id, body)
            if response is not None:
                form = body["form"]
                self._check_ins.add((form["id"], form["version"], str(form.get("sha256", ""))))
                write(response)
        if visit is not None:
            when = fhir.instant(visit.checked_in_at or row.created_at)
            write(patient_signature(f"{row.id}-signed", targets, row.patient_id, when))
        elif injection is not None:
            lot = lots[injection.lot_id]
            write(
                medication_administration(
                    injection.id,
                    row.patient_id,
                    row.consent_id,
                    given_at=injection.given_at,
                    status="entered-in-error" if superseded else "completed",
                    product=lot.product,
                    strength=lot.strength,
                    lot_number=lot.lot_number,
                    lot_expires=lot.expires_on,
                    dose_mg=injection.dose_mg,
                    site=injection.site,
                    side=injection.side,
                    clinician_id=injection.clinician_id,
                    clinician_name=injection.clinician_name,
                    notes=injection.notes,
                    record_id=row.id,
                )
            )
            targets.insert(0, fhir.reference("MedicationAdministration", injection.id))
            write(
                staff_signature(
                    f"{row.id}-signed",
                    targets,
                    injection.clinician_id,
                    injection.clinician_name,
                    fhir.instant(injection.created_at),
                )
            )
        elif withdrawal is not None:
            when = fhir.instant(withdrawal.recorded_at)
            if withdrawal.patient_signed:
                write(patient_signature(f"{row.id}-signed", targets, row.patient_id, when))
            else:
                member = staff.get(withdrawal.recorded_by or "")
                write(
                    staff_signature(
                        f"{row.id}-signed",
                        targets,
                        withdrawal.recorded_by,
                        member.name if member else "",
                        when,
                    )
                )
        write(seal(f"{row.id}-sealed", row.id, self._clinic(None), self._sealed(row)))


def _patient(row: Patient) -> dict[str, Any]:
    return fhir.patient(
        row.id,
        row.legal_name,
        row.date_of_birth,
        phone=row.phone,
        email=row.email,
        address=row.address,
        language=row.language,
    )


def _patient_of_submission(patient_id: str, submission: dict[str, Any]) -> dict[str, Any]:
    """A patient from a consent that no patient row names (signed before the archive kept
    patients): as the consent gives them."""
    p = submission.get("patient") if isinstance(submission.get("patient"), dict) else {}
    born = p.get("date_of_birth")
    try:
        day = date.fromisoformat(born) if isinstance(born, str) else None
    except ValueError:
        day = None
    return fhir.patient(
        patient_id,
        str(p.get("legal_name", "")),
        day,
        phone=p.get("phone") or None,
        email=p.get("email") or None,
        address=p.get("address") or None,
        language=submission.get("language") or None,
        emergency_contact=p.get("emergency_contact") or None,
    )
