"""`compare_with_archive`: whether a sealed PDF is the one the archive stored for its consent,
in the words `intake verify --archive` prints."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from sqlalchemy import update

from intake.archive.audit import Actor
from intake.archive.models import Consent
from intake.archive.service import Archive
from intake.archive.verify import compare_with_archive
from intake.config import PROJECT_ROOT
from intake.definition import FormCatalog
from intake.pdf import render_consent
from intake.pdf.seal import SealReport, seal_pdf
from intake.submission import Submission, validate_submission

DOC_ID = "5d4c3b2a-1908-4f7e-8d6c-5b4a39281706"


@pytest.fixture
def submission(catalog: FormCatalog) -> Submission:
    data = json.loads((PROJECT_ROOT / "intake" / "demo_submission.json").read_text("utf-8"))
    return validate_submission(data, catalog)


@pytest.fixture
def archived(archive: Archive, submission: Submission) -> tuple[str, bytes]:
    consent_id = archive.submit(submission, Actor())
    return consent_id, archive.pdf(consent_id)


def compared(archive: Archive, pdf: bytes, **kwargs: Any) -> SealReport:
    report = archive.check(pdf)
    compare_with_archive(archive, pdf, report, **kwargs)
    return report


def test_the_stored_pdf_matches_its_record(archive: Archive, archived: tuple[str, bytes]):
    consent_id, pdf = archived
    report = compared(archive, pdf)
    stored = archive.get(consent_id).archived_at.date()
    assert report.problems == []
    assert report.facts[-1] == ("archive", f"matches consent {consent_id} (stored {stored})")


def test_a_record_that_no_longer_matches(archive: Archive, archived: tuple[str, bytes]):
    consent_id, pdf = archived
    with archive.transaction() as session:
        session.execute(update(Consent).where(Consent.id == consent_id).values(pdf_sha256="f" * 64))
    assert compared(archive, pdf).problems == [
        f"the file's SHA-256 {hashlib.sha256(pdf).hexdigest()} does not match the archive's "
        f"record for consent {consent_id} ({'f' * 64})"
    ]


def test_a_document_id_the_archive_does_not_know(
    archive: Archive, catalog: FormCatalog, submission: Submission
):
    pdf = render_consent(catalog.get(submission.form_id), submission, document_id=DOC_ID)
    pdf = seal_pdf(pdf, archive.signer(), reason=f"document {DOC_ID}")
    assert compared(archive, pdf).problems == [
        f"no consent in the archive has this document id ({DOC_ID})"
    ]


def test_a_pending_consent_has_no_pdf_to_match(
    archive: Archive, catalog: FormCatalog, submission: Submission
):
    consent_id = archive.accept(submission, Actor())
    pdf = render_consent(catalog.get(submission.form_id), submission, document_id=consent_id)
    report = SealReport()
    compare_with_archive(archive, pdf, report)
    assert report.problems == [f"consent {consent_id} is pending: the archive has no PDF of it yet"]


def test_a_file_that_names_no_document_id(archive: Archive):
    report = SealReport()
    compare_with_archive(archive, b"%PDF-1.7 nothing here", report)
    assert report.problems == ["the file names no document id: no consent in the archive to match"]
