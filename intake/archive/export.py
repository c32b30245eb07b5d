"""Export archived consents to a zip (sealed PDFs and a manifest), and check such a zip later.

The zip holds `consents/<id>.pdf` for each consent, exactly as stored, and `manifest.json`
naming each one with its patient, form and the PDF's SHA-256 and size. A PDF whose bytes do not
match its row's SHA-256 stops the export: a copy that leaves the clinic must be the one signed.
The zip is written by the safe writer (`safe_file`): into a temporary file beside its destination,
one PDF at a time, fsynced, then renamed into place; it is owner-only (0600) from the start
because it holds health data.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import defer

from intake.archive import audit
from intake.archive.audit import Actor
from intake.archive.blobs import BlobMissing
from intake.archive.manifest import digest, entry_problems, is_file_entry, manifest_json
from intake.archive.models import ARCHIVED, Consent
from intake.archive.service import Archive
from intake.safe_write import safe_file

FORMAT = 1
MANIFEST = "manifest.json"
CONSENTS_FOLDER = "consents"


class ExportError(Exception):
    """The export cannot be made; nothing was written at its destination."""


@dataclass(frozen=True)
class ExportReport:
    path: Path
    count: int
    since: date


@dataclass
class ExportCheck:
    """What checking an export found: the consents it holds, and every problem."""

    count: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def holds(self) -> bool:
        return not self.problems


def consent_file(consent_id: str) -> str:
    return f"{CONSENTS_FOLDER}/{consent_id}.pdf"


def export_consents(archive: Archive, since: date, out: Path, actor: Actor) -> ExportReport:
    """Write every archived consent signed on or after `since` to the zip `out`.

    Raises `ExportError` (and leaves `out` untouched) when a stored PDF is missing or does not
    match its row; records the audit event "consents exported" once the zip is in place.
    """
    exported_at = archive.clock().astimezone(UTC)
    with archive.sessions() as session:
        # The rows only (without the submissions), not the PDFs: each PDF is read on its own
        # below, so a long export never holds a transaction (on SQLite, the write lock) open.
        rows = list(
            session.scalars(
                select(Consent)
                .options(defer(Consent.submission_json))
                .where(Consent.status == ARCHIVED, Consent.signed_on >= since)
                .order_by(Consent.signed_on, Consent.id)
            )
        )
    with archive.transaction() as session, safe_file(out) as file:
        with zipfile.ZipFile(file, "w", zipfile.ZIP_DEFLATED) as zf:
            entries = [_add_consent(archive, zf, consent, exported_at) for consent in rows]
            manifest = {
                "format": FORMAT,
                "exported_at": exported_at.isoformat(),
                "since": since.isoformat(),
                "consents": entries,
            }
            zf.writestr(_entry(MANIFEST, exported_at), manifest_json(manifest))
        # On the disk before the audit event takes the database's write lock.
        file.sync()
        audit.record(
            session, "consents exported", actor, f"{len(entries)} since {since.isoformat()}"
        )
        # The zip is put in place before the event commits: a failed rename rolls it back.
    return ExportReport(out, len(entries), since)


def _add_consent(
    archive: Archive, zf: zipfile.ZipFile, consent: Consent, exported_at: datetime
) -> dict[str, Any]:
    """One consent's PDF into the zip, checked against its row; its manifest entry."""
    assert consent.pdf_sha256 is not None
    try:
        with archive.sessions() as session:
            pdf = archive.blobs.get(session, consent.pdf_sha256)
    except BlobMissing:
        raise ExportError(
            f"consent {consent.id}: its stored PDF ({consent.pdf_sha256}) is missing"
        ) from None
    sha256 = hashlib.sha256(pdf).hexdigest()
    if sha256 != consent.pdf_sha256:
        raise ExportError(
            f"consent {consent.id}: the stored PDF's SHA-256 {sha256} does not match the "
            f"archive's record ({consent.pdf_sha256})"
        )
    name = consent_file(consent.id)
    zf.writestr(_entry(name, exported_at), pdf)
    return {
        "id": consent.id,
        "legal_name": consent.legal_name,
        "date_of_birth": consent.date_of_birth and consent.date_of_birth.isoformat(),
        "signed_at": consent.signed_at,
        "form_id": consent.form_id,
        "form_version": consent.form_version,
        "file": name,
        "sha256": sha256,
        "size": len(pdf),
    }


def _entry(name: str, at: datetime) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=at.timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o600 << 16
    return info


def verify_export(path: Path) -> ExportCheck:
    """Recompute each file's SHA-256 and size against the manifest; name every difference."""
    check = ExportCheck()
    try:
        with zipfile.ZipFile(path) as zf:
            names = [info.filename for info in zf.infolist() if not info.is_dir()]
            try:
                manifest = json.loads(zf.read(MANIFEST))
            except KeyError:
                check.problems.append(f"no {MANIFEST} in the zip")
                return check
            entries = _manifest_entries(manifest, check)
            if entries is None:
                return check
            listed = set()
            for entry in entries:
                name = entry["file"]
                listed.add(name)
                if name not in names:
                    check.problems.append(f"{name}: missing from the zip")
                    continue
                _check_file(zf, name, entry, check)
            check.problems.extend(
                f"{name}: not in the manifest" for name in names if name not in listed | {MANIFEST}
            )
            check.count = len(entries)
    except (zipfile.BadZipFile, OSError) as exc:
        check.problems.append(f"not a readable zip: {exc}")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        check.problems.append(f"{MANIFEST} is not valid JSON: {exc}")
    return check


def _manifest_entries(manifest: Any, check: ExportCheck) -> list[dict[str, Any]] | None:
    """The manifest's consents, or None (with the problem noted) when it is not one we wrote."""
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        check.problems.append(f"{MANIFEST} is not an export manifest of format {FORMAT}")
        return None
    entries = manifest.get("consents")
    if not isinstance(entries, list) or not all(is_file_entry(e) for e in entries):
        check.problems.append(f"{MANIFEST}: every consent needs a file, sha256 and size")
        return None
    return entries


def _check_file(zf: zipfile.ZipFile, name: str, entry: dict[str, Any], check: ExportCheck) -> None:
    try:
        with zf.open(name) as member:
            found = digest(member)
    except zipfile.BadZipFile as exc:
        # zipfile checks each member's CRC-32: a changed byte the zip itself noticed.
        check.problems.append(f"{name}: unreadable: {exc}")
        return
    check.problems.extend(f"{name}: {problem}" for problem in entry_problems(entry, found))
