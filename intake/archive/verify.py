"""Whether a sealed PDF someone holds is the one the archive stored for its consent (or for
the course record it is: a visit, an injection, a withdrawal)."""

from __future__ import annotations

import hashlib

from intake.archive.course_models import Record
from intake.archive.errors import ConsentMissing
from intake.archive.models import Consent
from intake.archive.records import RecordMissing
from intake.archive.service import Archive
from intake.pdf.seal import SealReport, document_id


def compare_with_archive(
    archive: Archive, pdf: bytes, report: SealReport, *, password: str | None = None
) -> None:
    """Add to `report` (the seal's verdict) whether the file is the PDF the archive stored for
    the consent it names: a fact when it is, a problem saying why when not."""
    consent_id = document_id(pdf, report, password)
    if consent_id is None:
        report.problems.append("the file names no document id: no consent in the archive to match")
        return
    try:
        consent: Consent | Record = archive.get(consent_id)
    except ConsentMissing:
        try:
            consent = archive.records.get(consent_id)
        except RecordMissing:
            report.problems.append(f"no consent in the archive has this document id ({consent_id})")
            return
    what = "consent" if isinstance(consent, Consent) else f"{consent.kind} record"
    if consent.pdf_sha256 is None or consent.archived_at is None:
        report.problems.append(f"{what} {consent.id} is pending: the archive has no PDF of it yet")
        return
    sha256 = hashlib.sha256(pdf).hexdigest()
    if sha256 != consent.pdf_sha256:
        report.problems.append(
            f"the file's SHA-256 {sha256} does not match the archive's record for {what} "
            f"{consent.id} ({consent.pdf_sha256})"
        )
        return
    report.facts.append(
        ("archive", f"matches {what} {consent.id} (stored {consent.archived_at.date()})")
    )
