"""The sealed-record store of the course (`intake/archive/records.py`) and the one-page record
layout (`intake/pdf/record.py`): accept, seal, store, read back; idempotent by submit key;
repair; on SQLite and PostgreSQL, PDFs in files and in the database."""

from __future__ import annotations

import hashlib
import io
import json
import threading
from typing import Any

import pikepdf
import pytest
from pypdf import PdfReader
from sqlalchemy import func, select, update

from intake.archive import audit, records
from intake.archive.course_models import VISIT, Record
from intake.archive.models import ARCHIVED, PENDING, AuditEvent, Consent
from intake.archive.records import RecordMissing, is_named, named_pdfs
from intake.archive.service import Archive
from intake.pdf.record import RECORD_ATTACHMENT
from tests.support.app import on_both_databases
from tests.support.course import TABLET, submit_record, visit_record
from tests.support.pdf import words
from tests.support.pdfa import REQUIREMENTS, problems
from tests.support.pdftools import all_warnings

app_config = pytest.fixture(on_both_databases, name="app_config")
STORAGES = [
    pytest.param({"STORAGE": "files"}, id="files"),
    pytest.param({"STORAGE": "database"}, id="database"),
]


@pytest.mark.parametrize("app_config", STORAGES, indirect=True)
def test_a_record_is_sealed_stored_by_hash_and_reads_back(archive: Archive):
    made = visit_record(archive, yes=True)
    record_id = submit_record(archive, made)
    record = archive.records.get(record_id)
    consent = archive.get(made["consent_id"])
    assert record.status == ARCHIVED and record.kind == VISIT and record.last_error is None
    pdf = archive.records.pdf(record_id)
    assert hashlib.sha256(pdf).hexdigest() == record.pdf_sha256 and len(pdf) == record.pdf_size
    assert record.body_sha256 == hashlib.sha256(record.body_json).hexdigest()

    report = archive.check(pdf)  # pyHanko's validator, against the clinic's certificates
    assert report.holds, report.problems
    assert dict(report.facts)["reason"] == f"Record visit, document {record_id}"

    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    text = words(reader.pages[0].extract_text())
    assert "Zoë O'Brien" in text and "Visit check-in" in text
    assert f"Relies on consent {consent.id}" in text and consent.pdf_sha256 in text
    assert f"Document {record_id}" in text
    assert "Did you have any reaction after your last injection?" in text
    assert "Yes · STOP Did you have any reaction" in text and "Mild side effects" in text
    assert "Clinician review required: 1 answer(s) below." in text
    (attached,) = reader.attachments[RECORD_ATTACHMENT]
    assert attached == record.body_json and json.loads(attached) == made["body"]
    # The metadata names the kind and the document, never the patient.
    metadata = " ".join(str(v) for v in (reader.metadata or {}).values())
    assert record_id in metadata and "O'Brien" not in metadata and "Zoë" not in metadata

    with archive.sessions() as session:
        events = list(
            session.scalars(
                select(AuditEvent.event)
                .where(AuditEvent.target == record_id)
                .order_by(AuditEvent.seq)
            )
        )
        assert events == ["record created", "record archived"]
        assert is_named(session, record.pdf_sha256)
        assert record.pdf_sha256 in named_pdfs(session)
        assert archive.blobs.get(session, record.pdf_sha256) == pdf
    if archive.settings.storage == "files":
        path = archive.settings.files_dir / record.pdf_sha256[:2] / f"{record.pdf_sha256}.pdf"
        assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_the_same_submit_key_makes_one_record(archive: Archive):
    made = visit_record(archive)
    calls: list[str] = []
    ids: list[str] = []

    def rows(session, record: Record) -> None:
        calls.append(record.id)

    threads = [
        threading.Thread(
            target=lambda: ids.append(submit_record(archive, made, key="k" * 40, rows=rows))
        )
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(ids)) == 1 and len(ids) == 4
    assert submit_record(archive, made, key="k" * 40) == ids[0]
    with archive.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Record)) == 1
    assert ids[0] in calls
    assert archive.records.get(ids[0]).status == ARCHIVED


def test_the_callers_rows_commit_with_the_record_or_not_at_all(archive: Archive):
    made = visit_record(archive)

    def failing(session, record: Record) -> None:
        raise RuntimeError("a rule of the caller's refused it")

    with pytest.raises(RuntimeError):
        submit_record(archive, made, rows=failing)
    with archive.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Record)) == 0
        assert audit.verify(session).broken_seq is None
        assert not list(
            session.scalars(select(AuditEvent).where(AuditEvent.event == "record created"))
        )


@pytest.mark.parametrize("app_config", STORAGES, indirect=True)
def test_a_failed_seal_stays_pending_and_repair_finishes_it(archive: Archive, monkeypatch):
    made = visit_record(archive)

    def broken(*args: Any, **kwargs: Any) -> bytes:
        raise RuntimeError("the layout failed with the patient's name in it: Zoë")

    monkeypatch.setattr("intake.archive.records.render_record", broken)
    record_id = submit_record(archive, made)
    record = archive.records.get(record_id)
    assert record.status == PENDING and record.last_error == "RuntimeError"
    with pytest.raises(RecordMissing):
        archive.records.pdf(record_id)
    monkeypatch.undo()

    report = archive.repair(TABLET)
    assert record_id in report.finished and report.failed == []
    assert archive.records.get(record_id).status == ARCHIVED
    assert archive.check(archive.records.pdf(record_id)).holds


@pytest.mark.parametrize("app_config", STORAGES, indirect=True)
def test_repair_never_removes_a_records_pdf(archive: Archive):
    made = visit_record(archive)
    record_id = submit_record(archive, made)
    kept = archive.records.get(record_id).pdf_sha256
    consent_pdf = archive.get(made["consent_id"]).pdf_sha256
    with archive.sessions() as session:
        orphan = archive.blobs.put(session, b"%PDF-1.7 left by a crash")
        session.commit()
    report = archive.repair(TABLET)
    assert report.removed == [orphan]
    with archive.sessions() as session:
        assert set(archive.blobs.stored(session)) == {kept, consent_pdf}
    assert archive.check(archive.records.pdf(record_id)).holds


def test_a_record_waits_for_its_consents_seal(archive: Archive):
    made = visit_record(archive)
    with archive.transaction() as session:
        session.execute(
            update(Consent).where(Consent.id == made["consent_id"]).values(pdf_sha256=None)
        )
    record_id = submit_record(archive, made)
    record = archive.records.get(record_id)
    assert record.status == PENDING
    assert record.last_error == "the consent this record relies on has no sealed PDF yet"


def test_an_unknown_kind_is_refused_and_a_kind_without_renderer_stays_pending(
    archive: Archive, monkeypatch
):
    made = visit_record(archive)
    with pytest.raises(ValueError):
        archive.records.accept(
            "haircut",
            {},
            patient_id=made["patient_id"],
            consent_id=made["consent_id"],
            actor=TABLET,
        )
    monkeypatch.setattr(records, "RENDERERS", {})
    record_id = submit_record(archive, made)
    assert (
        archive.records.get(record_id).last_error == "no renderer is registered for visit records"
    )


def test_a_record_that_waited_for_storage_is_finished_once_the_next_one_stores(
    archive: Archive, monkeypatch
):
    import errno

    first, second = visit_record(archive), visit_record(archive)

    def full(*args: Any, **kwargs: Any) -> str:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(archive.blobs, "put", full)
    waiting = submit_record(archive, first)
    assert archive.records.get(waiting).last_error.startswith("the archive folder is full")
    monkeypatch.undo()
    stored = submit_record(archive, second)
    archive.records.wait_for_retry()
    assert archive.records.get(stored).status == ARCHIVED
    assert archive.records.get(waiting).status == ARCHIVED
    assert archive.check(archive.records.pdf(waiting)).holds


def test_a_sealed_record_is_pdfa_and_the_pdf_tools_find_nothing(archive: Archive, tmp_path):
    """Every sealed record is PDF/A-3b like a consent: each applicable clause of ISO 19005-3,
    the document's language, and qpdf, pdfinfo and pdffonts silent."""
    record_id = submit_record(archive, visit_record(archive, yes=True))
    pdf = archive.records.pdf(record_id)
    assert {clause: problems(pdf, clause) for clause in REQUIREMENTS} == {
        clause: [] for clause in REQUIREMENTS
    }
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        assert str(doc.Root.Lang) == "en-US"
        (name,) = [str(spec.F) for spec in doc.Root.AF]
        assert name == RECORD_ATTACHMENT
    path = tmp_path / "record.pdf"
    path.write_bytes(pdf)
    assert all_warnings(path) == {"qpdf --check": [], "pdfinfo": [], "pdffonts": []}
