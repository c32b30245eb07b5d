"""Export archived consents to a zip (sealed PDFs and a manifest), and check such a zip later.

The zip holds `consents/<id>.pdf` for each consent, exactly as stored, `records/<id>.pdf` for
each sealed record of the course (a visit, an injection, a withdrawal), and `manifest.json`
naming each consent with its patient, form and the PDF's SHA-256 and size, and each record with
its kind, consent and patient ids. Checking a zip trusts
neither: each PDF's seal must hold, and the manifest's id, name, birth date and signing time
must be those the sealed PDF carries (its document id, and its attached `submission.json`).
A PDF whose bytes do not match its row's SHA-256 stops the export: a copy that leaves the clinic
must be the one signed.
The zip is written by the safe writer (`safe_file`): into a temporary file beside its destination,
one PDF at a time, fsynced, then renamed into place; it is owner-only (0600) from the start
because it holds health data.
"""

from __future__ import annotations

import hashlib
import io
import json
import sqlite3
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import IO, Any

import ijson
from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import defer

from intake.archive import audit
from intake.archive.audit import Actor
from intake.archive.blobs import BlobMissing
from intake.archive.course_models import Record
from intake.archive.export_members import MemberIndex
from intake.archive.export_seals import SealJob, seal_checker
from intake.archive.manifest import (
    ManifestUnreadable,
    digest,
    entry_problems,
    is_file_entry,
    manifest_json,
    top_level_many,
)
from intake.archive.models import ARCHIVED, Consent
from intake.archive.service import Archive
from intake.archive.zip_reader import Member
from intake.archive.zip_writer import DateTime, ZipWriter
from intake.certificates import ClinicCertificate
from intake.progress import NO_PROGRESS, Progress
from intake.safe_write import safe_file

FORMAT = 1
MANIFEST = "manifest.json"
CONSENTS_FOLDER = "consents"
RECORDS_FOLDER = "records"


class ExportError(Exception):
    """The export cannot be made; nothing was written at its destination."""


@dataclass(frozen=True)
class ExportReport:
    path: Path
    count: int
    since: date
    #: The course records written beside the consents.
    records: int = 0


@dataclass
class ExportCheck:
    """What checking an export found: the consents it holds, and every problem."""

    count: int = 0
    problems: list[str] = field(default_factory=list)
    #: The course records it holds.
    records: int = 0

    @property
    def holds(self) -> bool:
        return not self.problems


def consent_file(consent_id: str) -> str:
    return f"{CONSENTS_FOLDER}/{consent_id}.pdf"


def record_file(record_id: str) -> str:
    return f"{RECORDS_FOLDER}/{record_id}.pdf"


#: How many rows an export reads at a time (a keyset page, each in its own short session).
PAGE = 500


def export_consents(
    archive: Archive,
    since: date,
    out: Path,
    actor: Actor,
    progress: Progress = NO_PROGRESS,
) -> ExportReport:
    """Write every archived consent signed on or after `since` to the zip `out`.

    Streams: the rows are read a page at a time, each PDF is written as it is read, and the
    manifest's entries and the zip's central directory (`ZipWriter`) wait in unnamed temporary
    files beside `out` until the end, so memory stays flat in the archive's size. Raises
    `ExportError` (and leaves `out` untouched) when a stored PDF is missing or does not match
    its row; records the audit event "consents exported" once the zip is in place.
    An interrupted export leaves nothing at `out`.
    """
    exported_at = archive.clock().astimezone(UTC)
    wanted = (Consent.status == ARCHIVED, Consent.signed_on >= since)
    wanted_records = (
        Record.status == ARCHIVED,
        Record.created_at >= datetime.combine(since, time(), UTC),
    )
    with archive.sessions() as session:
        progress.start(
            session.scalar(select(func.count()).select_from(Consent).where(*wanted))
            + session.scalar(select(func.count()).select_from(Record).where(*wanted_records))
        )
    count = records = 0
    with (
        tempfile.TemporaryFile(dir=out.parent) as entries,
        tempfile.TemporaryFile(dir=out.parent) as record_entries,
        archive.transaction() as session,
        safe_file(out) as file,
    ):
        with ZipWriter(file, out.parent) as zf:
            for consent in _rows(archive, wanted):
                entry = _add_consent(archive, zf, consent, exported_at)
                entries.write(json.dumps(entry, ensure_ascii=False).encode("utf-8") + b"\n")
                count += 1
                progress.advance()
            for record in _record_rows(archive, wanted_records):
                entry = _add_record(archive, zf, record, exported_at)
                record_entries.write(json.dumps(entry).encode("utf-8") + b"\n")
                records += 1
                progress.advance()
            header = {
                "format": FORMAT,
                "exported_at": exported_at.isoformat(),
                "since": since.isoformat(),
            }
            entries.seek(0)
            record_entries.seek(0)
            with zf.open(MANIFEST, _date_time(exported_at)) as member:
                _write_manifest(
                    member, header, [("consents", entries), ("records", record_entries)]
                )
        # On the disk before the audit event takes the database's write lock.
        file.sync()
        audit.record(session, "consents exported", actor, f"{count} since {since.isoformat()}")
        # The zip is put in place before the event commits: a failed rename rolls it back.
    return ExportReport(out, count, since, records)


def _rows(archive: Archive, wanted: tuple[Any, ...]) -> Iterator[Consent]:
    """The consents to export, oldest first, a keyset page at a time.

    The rows only (without the submissions), not the PDFs: each PDF is read on its own, so a
    long export never holds a transaction (on SQLite, the write lock) open, nor every row.
    """
    return _pages(archive, Consent, Consent.submission_json, Consent.signed_on, wanted)


def _record_rows(archive: Archive, wanted: tuple[Any, ...]) -> Iterator[Record]:
    """The course records to export, oldest first, a keyset page at a time (like `_rows`)."""
    return _pages(archive, Record, Record.body_json, Record.created_at, wanted)


def _pages(
    archive: Archive, model: Any, body: Any, oldest_first: Any, wanted: tuple[Any, ...]
) -> Iterator[Any]:
    """The rows of `model` that are `wanted`, by `oldest_first` then id, without their `body`,
    a keyset page at a time, each page in a session of its own."""
    after: tuple[Any, Any] | None = None
    while True:
        query = _page_query(model, body, oldest_first, wanted, after)
        with archive.sessions() as session:
            page = list(session.scalars(query))
        yield from page
        if len(page) < PAGE:
            return
        after = (getattr(page[-1], oldest_first.key), page[-1].id)
        page.clear()  # not held while the next page is read: one page at a time, not two


def _page_query(
    model: Any, body: Any, oldest_first: Any, wanted: tuple[Any, ...], after: tuple[Any, Any] | None
) -> Any:
    """One keyset page: the first PAGE rows after `after` (for consents, read in order from
    the index `ix_consents_export`, so no page sorts the archive again)."""
    query = (
        select(model)
        .options(defer(body))
        .where(*wanted)
        .order_by(oldest_first, model.id)
        .limit(PAGE)
    )
    if after is not None:
        query = query.where(tuple_(oldest_first, model.id) > after)
    return query


def _write_manifest(
    member: IO[bytes], header: dict[str, Any], lists: list[tuple[str, IO[bytes]]]
) -> None:
    """The manifest, byte for byte as `manifest_json` writes it, with each of its lists (the
    consents, the records) streamed from a file of one JSON object a line instead of held."""
    opening = manifest_json(header)
    assert opening.endswith(b"\n}")
    member.write(opening[: -len(b"\n}")])
    for name, entries in lists:
        member.write(f",\n  {json.dumps(name)}: [".encode())
        first = True
        for line in entries:
            text = json.dumps(json.loads(line), ensure_ascii=False, indent=2)
            member.write((b"\n" if first else b",\n") + _indented(text))
            first = False
        member.write(b"]" if first else b"\n  ]")
    member.write(b"\n}")


def _indented(text: str) -> bytes:
    return "\n".join(f"    {line}" for line in text.split("\n")).encode("utf-8")


def _add_pdf(
    archive: Archive,
    zf: ZipWriter,
    what: str,
    pdf_sha256: str | None,
    name: str,
    exported_at: datetime,
) -> tuple[str, int]:
    """The stored PDF a row (`what`) names into the zip as `name`, checked against the row's
    SHA-256; its SHA-256 and size. `ExportError` when it is missing or not that file."""
    assert pdf_sha256 is not None
    try:
        with archive.sessions() as session:
            pdf = archive.blobs.get(session, pdf_sha256)
    except BlobMissing:
        raise ExportError(f"{what}: its stored PDF ({pdf_sha256}) is missing") from None
    sha256 = hashlib.sha256(pdf).hexdigest()
    if sha256 != pdf_sha256:
        raise ExportError(
            f"{what}: the stored PDF's SHA-256 {sha256} does not match the "
            f"archive's record ({pdf_sha256})"
        )
    # Stored, not deflated: a PDF's streams are compressed already.
    zf.write(name, pdf, _date_time(exported_at))
    return sha256, len(pdf)


def _add_consent(
    archive: Archive, zf: ZipWriter, consent: Consent, exported_at: datetime
) -> dict[str, Any]:
    """One consent's PDF into the zip, checked against its row; its manifest entry."""
    name = consent_file(consent.id)
    sha256, size = _add_pdf(
        archive, zf, f"consent {consent.id}", consent.pdf_sha256, name, exported_at
    )
    return {
        "id": consent.id,
        "legal_name": consent.legal_name,
        "date_of_birth": consent.date_of_birth and consent.date_of_birth.isoformat(),
        "signed_at": consent.signed_at,
        "form_id": consent.form_id,
        "form_version": consent.form_version,
        "file": name,
        "sha256": sha256,
        "size": size,
    }


def _add_record(
    archive: Archive, zf: ZipWriter, record: Record, exported_at: datetime
) -> dict[str, Any]:
    """One course record's PDF into the zip, checked against its row; its manifest entry."""
    name = record_file(record.id)
    sha256, size = _add_pdf(
        archive, zf, f"record {record.id}", record.pdf_sha256, name, exported_at
    )
    return {
        "id": record.id,
        "kind": record.kind,
        "consent_id": record.consent_id,
        "patient_id": record.patient_id,
        "created_at": record.created_at.isoformat(),
        "file": name,
        "sha256": sha256,
        "size": size,
    }


def _date_time(at: datetime) -> DateTime:
    year, month, day, hour, minute, second = at.timetuple()[:6]
    return year, month, day, hour, minute, second


def verify_export(
    path: Path,
    trusted: list[ClinicCertificate],
    progress: Progress = NO_PROGRESS,
    *,
    workers: int | None = None,
) -> ExportCheck:
    """Recompute each file's SHA-256 and size against the manifest, check each PDF's seal
    against the `trusted` certificates, and each manifest entry against what its sealed PDF
    says; name every difference.

    Flat in the zip's size: its central directory is read a page at a time (`zip_reader`) into
    an index on disk (`MemberIndex`), each member is read from its offset when its manifest
    entry comes, and the manifest is read as a stream (ijson), twice: once to check that every
    entry is one and count them, then to check each. The seals are checked by a process a core
    (`export_seals.py`; `workers` sets how many).
    """
    check = ExportCheck()
    try:
        with path.open("rb") as file, MemberIndex(file) as index:
            if index.get(MANIFEST) is None:
                check.problems.append(f"no {MANIFEST} in the zip")
                return check
            counted = _count_entries(index, check)
            if counted is None:
                return check
            count, records = counted
            progress.start(count + records)
            with seal_checker(trusted, workers) as checker:
                sealed = checker.problems(_checked_files(index, progress))
                for problems in sealed:
                    check.problems.extend(problems)
            index.list(MANIFEST)
            check.problems.extend(f"{name}: not in the manifest" for name in _member_names(index))
            check.count, check.records = count, records
    except (zipfile.BadZipFile, OSError) as exc:
        check.problems.append(f"not a readable zip: {exc}")
    except ManifestUnreadable as exc:
        check.problems.append(f"{MANIFEST} is not valid JSON: {exc}")
    except sqlite3.Error as exc:  # the index of members, in a temporary file (a full disk)
        raise ExportError(f"cannot index the zip's members in a temporary file: {exc}") from exc
    return check


def _member_names(index: MemberIndex) -> Iterator[str]:
    """The names of the zip's files that the manifest does not list, in the zip's order."""
    return index.unlisted()


def _entries(index: MemberIndex, key: str = "consents") -> Iterator[Any]:
    """The manifest's consents (or course `records`), a few at a time; `ManifestUnreadable`
    if it is not JSON."""
    with index.open(MANIFEST) as member:
        try:
            yield from ijson.items(member, f"{key}.item", use_float=True)
        except (ijson.JSONError, UnicodeDecodeError) as exc:
            raise ManifestUnreadable(str(exc)) from None


def _count_entries(index: MemberIndex, check: ExportCheck) -> tuple[int, int] | None:
    """How many consents and course records the manifest lists, or None (with the problem
    noted) when it is not one we wrote. An export made before the course had records lists
    none."""
    with index.open(MANIFEST) as member:
        fields, types = top_level_many(member, ("consents", RECORDS_FOLDER))
    if fields.get("format") != FORMAT:
        check.problems.append(f"{MANIFEST} is not an export manifest of format {FORMAT}")
        return None
    counts = []
    for key, what, needs_id in (("consents", "consent", False), (RECORDS_FOLDER, "record", True)):
        if key == RECORDS_FOLDER and types[key] == "":
            counts.append(0)
            continue
        count = 0
        for entry in _entries(index, key):
            if types[key] != "array" or not is_file_entry(entry):
                break
            if needs_id and not isinstance(entry.get("id"), str):
                break
            count += 1
        else:
            if types[key] == "array":
                counts.append(count)
                continue
        needs = "an id, file, sha256 and size" if needs_id else "a file, sha256 and size"
        check.problems.append(f"{MANIFEST}: every {what} needs {needs}")
        return None
    return counts[0], counts[1]


def _checked_files(index: MemberIndex, progress: Progress) -> Iterator[SealJob]:
    """Each listed member: its bytes, for its seal to be checked, when it is the file the
    manifest lists; else what is wrong with it (missing, or not that file), named once."""
    for key, kind in (("consents", "consent"), (RECORDS_FOLDER, "record")):
        for entry in _entries(index, key):
            name = entry["file"]
            member = index.list(name)
            if member is None:
                yield SealJob(name, entry, None, [f"{name}: missing from the zip"], kind)
            else:
                yield _listed_file(index, member, entry, kind)
            progress.advance()


def _listed_file(index: MemberIndex, member: Member, entry: dict[str, Any], kind: str) -> SealJob:
    name = member.name
    try:
        pdf = index.read(member)
    except zipfile.BadZipFile as exc:
        # Each member's CRC-32 is checked: a changed byte the zip itself noticed.
        return SealJob(name, entry, None, [f"{name}: unreadable: {exc}"], kind)
    problems = entry_problems(entry, digest(io.BytesIO(pdf)))
    if problems:
        return SealJob(name, entry, None, [f"{name}: {problem}" for problem in problems], kind)
    return SealJob(name, entry, pdf, [], kind)
