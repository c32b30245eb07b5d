"""The archive on both databases: accept then seal, repair, search, review, retention, storage."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import event, text, update

from intake.archive import audit
from intake.archive.audit import Actor
from intake.archive.errors import ArchiveError, ConsentMissing
from intake.archive.models import ARCHIVED, DELETED, PENDING, Consent, PdfBlob
from intake.archive.search import SearchCriteria, name_words
from intake.archive.service import Archive, submission_of
from intake.archive.staff import create_staff
from intake.definition import FormCatalog
from intake.pdf.seal import check_seal
from intake.submission import Submission, validate_submission
from tests.support.app import on_both_databases

app_config = pytest.fixture(on_both_databases, name="app_config")

TABLET = Actor(ip="192.0.2.7", user_agent="Tablet")


def submission(catalog: FormCatalog, data: dict[str, Any], **patient: Any) -> Submission:
    data = json.loads(json.dumps(data))
    data["patient"].update(patient)
    if "legal_name" in patient:
        data["signature"]["typed_name"] = patient["legal_name"]
    return validate_submission(data, catalog)


def files_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def test_a_submitted_consent_is_archived_sealed_and_stored_by_hash(
    archive: Archive, catalog, demo_data
):
    sub = validate_submission(demo_data, catalog)
    consent_id = archive.submit(sub, TABLET)
    consent = archive.get(consent_id)
    assert consent.status == ARCHIVED
    assert consent.submission_sha256 == sub.sha256
    assert submission_of(consent) == demo_data
    pdf = archive.pdf(consent_id)
    assert hashlib.sha256(pdf).hexdigest() == consent.pdf_sha256 and len(pdf) == consent.pdf_size
    path = archive.settings.files_dir / consent.pdf_sha256[:2] / f"{consent.pdf_sha256}.pdf"
    assert path.read_bytes() == pdf
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    report = archive.check(pdf)
    assert report.holds, report.problems
    assert f"document {consent_id}" in dict(report.facts)["reason"]


def test_the_pdf_names_the_sealing_certificate(archive: Archive, catalog, demo_data):
    consent_id = archive.submit(validate_submission(demo_data, catalog), TABLET)
    text_of_pdf = "".join(
        p.extract_text() for p in PdfReader(io.BytesIO(archive.pdf(consent_id))).pages
    )
    assert archive.signer().certificate.sha256[:16] in text_of_pdf.replace("\n", "")


def test_a_failed_render_leaves_the_submission_pending_and_repair_finishes_it(
    archive: Archive, catalog, demo_data, monkeypatch
):
    def broken(*args: Any, **kwargs: Any) -> bytes:
        raise RuntimeError("renderer crashed")

    monkeypatch.setattr("intake.archive.sealing.render_consent", broken)
    consent_id = archive.submit(validate_submission(demo_data, catalog), TABLET)
    consent = archive.get(consent_id)
    assert consent.status == PENDING and consent.last_error == "RuntimeError"
    assert submission_of(consent) == demo_data  # the answers and strokes are safe
    with pytest.raises(ConsentMissing):
        archive.pdf(consent_id)
    assert files_in(archive.settings.files_dir) == []

    monkeypatch.undo()
    report = archive.repair(TABLET)
    assert report.finished == [consent_id] and report.failed == []
    assert archive.get(consent_id).status == ARCHIVED
    assert archive.check(archive.pdf(consent_id)).holds


def test_repair_reports_a_consent_it_cannot_finish(archive: Archive, catalog, demo_data):
    consent_id = archive.accept(validate_submission(demo_data, catalog), TABLET)
    with archive.transaction() as session:
        session.execute(update(Consent).values(form_sha256="0" * 64))
    report = archive.repair(TABLET)
    assert report.finished == []
    assert report.failed == [
        (
            consent_id,
            "form b12-methylcobalamin changed since version "
            f"{catalog.get('b12-methylcobalamin').version} was signed",
        )
    ]
    assert archive.get(consent_id).status == PENDING


def test_repair_removes_pdfs_no_row_names_but_keeps_named_ones(
    archive: Archive, catalog, demo_data
):
    consent_id = archive.submit(validate_submission(demo_data, catalog), TABLET)
    kept = archive.get(consent_id).pdf_sha256
    with archive.sessions() as session:
        orphan = archive.blobs.put(session, b"%PDF-1.7 left by a crash")
        session.commit()
    leftover = archive.settings.files_dir / "ab" / ".x.pdf.12345.tmp"
    if archive.settings.storage == "files":
        leftover.parent.mkdir(exist_ok=True)
        leftover.write_bytes(b"half")
    assert archive.repair(TABLET, grace_seconds=3600).removed == []  # too new to be sure
    report = archive.repair(TABLET)
    assert report.removed == [orphan]
    assert not leftover.exists()
    with archive.sessions() as session:
        assert set(archive.blobs.stored(session)) == {kept}
    assert archive.check(archive.pdf(consent_id)).holds


def test_finishing_twice_keeps_one_pdf(archive: Archive, catalog, demo_data):
    consent_id = archive.accept(validate_submission(demo_data, catalog), TABLET)
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(archive.finish(consent_id, TABLET)))
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [True, True, True]
    consent = archive.get(consent_id)
    with archive.sessions() as session:
        assert list(archive.blobs.stored(session)) == [consent.pdf_sha256]
    assert archive.check(archive.pdf(consent_id)).holds


def test_the_same_submit_key_makes_one_consent(archive: Archive, catalog, demo_data):
    sub = validate_submission(demo_data, catalog)
    first = archive.submit(sub, TABLET, key="k" * 64)
    again = archive.submit(sub, TABLET, key="k" * 64)
    other = archive.submit(sub, TABLET, key="j" * 64)
    assert first == again != other
    assert len(archive.search(SearchCriteria()).consents) == 2


def test_concurrent_submissions_are_all_archived(archive: Archive, catalog, demo_data):
    subs = [submission(catalog, demo_data, legal_name=f"Patient Number{i}") for i in range(8)]
    ids: list[str] = []
    threads = [
        threading.Thread(target=lambda s=s: ids.append(archive.submit(s, TABLET))) for s in subs
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == 8
    assert archive.counts() == {ARCHIVED: 8}
    with archive.sessions() as session:
        assert audit.verify(session).rows == 16  # created + archived, each


def test_database_storage_keeps_the_pdf_in_the_database(archive: Archive, catalog, demo_data):
    archive = Archive(
        dataclasses.replace(archive.settings, storage="database"), catalog, engine=archive.engine
    )
    consent_id = archive.submit(validate_submission(demo_data, catalog), TABLET)
    consent = archive.get(consent_id)
    with archive.sessions() as session:
        blob = session.get(PdfBlob, consent.pdf_sha256)
        assert blob is not None and hashlib.sha256(blob.data).hexdigest() == consent.pdf_sha256
    assert files_in(archive.settings.files_dir) == []
    assert check_seal(archive.pdf(consent_id), [archive.signer().certificate]).holds


# Search.


def test_name_words_fold_case_accents_and_apostrophes():
    assert name_words("Zoë O'Brien") == ["zoe", "obrien"]
    assert name_words("  MARÍA-José  Núñez ") == ["maria", "jose", "nunez"]
    assert name_words("") == []


def test_search_by_name_date_of_birth_signed_dates_and_review(archive: Archive, catalog, demo_data):
    zoe = archive.accept(validate_submission(demo_data, catalog), TABLET)
    other = submission(catalog, demo_data, legal_name="Maria Núñez", date_of_birth="1970-02-03")
    maria = archive.accept(other, TABLET)

    def found(**criteria: Any) -> list[str]:
        return [c.id for c in archive.search(SearchCriteria(**criteria)).consents]

    assert found(name="zoe obrien") == [zoe]
    assert found(name="O'BRI") == [zoe]
    assert found(name="nunez") == [maria]
    assert found(name="maria zoe") == []
    assert found(date_of_birth=date(1970, 2, 3)) == [maria]
    signed = validate_submission(demo_data, catalog).signed_at.date()
    assert found(signed_from=signed, signed_to=signed) == [maria, zoe]
    assert found(signed_from=signed + timedelta(days=1)) == []
    assert set(found(needs_review=True)) == {zoe, maria}  # the demo answers two flagged questions
    # One name word, initials only and a long signing range take the planner's own way on
    # PostgreSQL; two words (one of two letters or more) and a short range are found first.
    assert found(name="z") == [zoe]
    assert found(name="m n") == [maria]
    assert found(signed_from=signed - timedelta(days=400), signed_to=signed) == [maria, zoe]
    assert found(signed_from=signed - timedelta(days=92), signed_to=signed) == [maria, zoe]
    assert found(name="nu", signed_from=signed, signed_to=signed) == [maria]
    assert found(name="nu", signed_from=signed - timedelta(days=400), signed_to=signed) == [maria]
    if archive.engine.dialect.name == "postgresql":
        statements: list[str] = []
        listen = ("before_cursor_execute", lambda *a: statements.append(a[2]))
        event.listen(archive.engine, *listen)
        try:
            for criteria in (
                {"name": "m nu"},
                {"signed_from": signed - timedelta(days=92), "signed_to": signed},
                {"name": "nunez"},
                {"name": "m n"},
                {"signed_from": signed - timedelta(days=93), "signed_to": signed},
            ):
                found(**criteria)
        finally:
            event.remove(archive.engine, *listen)
        assert ["MATERIALIZED" in sql for sql in statements] == [True, True, False, False, False]


@pytest.mark.parametrize(
    "criteria",
    [
        SearchCriteria(),
        SearchCriteria(name="pat ient"),
        SearchCriteria(signed_from=date(2026, 10, 1), signed_to=date(2026, 12, 31)),
        SearchCriteria(signed_from=date(2020, 1, 1), signed_to=date(2027, 1, 1)),
    ],
    ids=["everyone", "name", "short range", "long range"],
)
def test_pages_are_newest_first_and_follow_on(
    archive: Archive, catalog, demo_data, criteria: SearchCriteria
):
    base = datetime(2026, 1, 1, tzinfo=UTC)
    made = []
    for i in range(7):
        archive.clock = lambda i=i: base + timedelta(minutes=i // 2)  # pairs share a time
        made.append(
            archive.accept(submission(catalog, demo_data, legal_name=f"Pat Ient{i}"), TABLET)
        )
    seen, cursor = [], None
    while True:
        page = archive.search(criteria, cursor=cursor, limit=3)
        seen += [c.id for c in page.consents]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    expected = [
        c.id
        for c in sorted(
            (archive.get(i) for i in made), key=lambda c: (c.created_at, c.id), reverse=True
        )
    ]
    assert seen == expected and len(seen) == 7


def test_a_review_is_kept_beside_the_untouched_pdf(archive: Archive, catalog, demo_data):
    consent_id = archive.submit(validate_submission(demo_data, catalog), TABLET)
    before = archive.pdf(consent_id)
    with archive.transaction() as session:
        nurse = create_staff(
            session,
            email="n@clinic.test",
            name="Nina Nurse",
            role="clinician",
            password="a long enough password",
            actor=TABLET,
        )
    with pytest.raises(ArchiveError, match="note"):
        archive.review(consent_id, nurse, "   ", TABLET)
    archive.review(consent_id, nurse, "Warfarin: pressure 5 min after injection.", TABLET)
    (review,) = archive.reviews(consent_id)
    assert review.staff_name == "Nina Nurse" and review.note.startswith("Warfarin")
    assert archive.pdf(consent_id) == before
    assert archive.search(SearchCriteria(needs_review=True)).consents == []


# Retention.


def test_retention_lists_and_deletes_only_consents_past_it(archive: Archive, catalog, demo_data):
    data = dict(demo_data, signed_at="2012-03-01T10:00:00-06:00")
    adult_2012 = archive.submit(validate_submission(data, catalog), TABLET)
    minor = json.loads(json.dumps(data))
    minor["patient"]["date_of_birth"] = "2000-01-01"
    minor["guardian"] = {
        "name": "Ann O'Brien",
        "relationship": "mother",
        "signature": {k: v for k, v in data["signature"].items() if k != "typed_name"},
    }
    minor_2012 = archive.submit(validate_submission(minor, catalog), TABLET)
    recent = archive.submit(validate_submission(demo_data, catalog), TABLET)
    today = date(2026, 11, 29)
    assert archive.retained_until(archive.get(adult_2012)) == date(2022, 3, 1)
    assert archive.retained_until(archive.get(minor_2012)) == date(2031, 1, 1)
    assert [c.id for c in archive.due(today)] == [adult_2012]

    with pytest.raises(ArchiveError, match="kept until 2031-01-01"):
        archive.delete(minor_2012, TABLET, today)
    sha = archive.get(adult_2012).pdf_sha256
    archive.delete(adult_2012, TABLET, today)
    with pytest.raises(ConsentMissing):
        archive.get(adult_2012)
    with archive.sessions() as session:
        row = session.get(Consent, adult_2012)
        assert row.status == DELETED and row.submission_json is None and row.legal_name == ""
        assert sha not in set(archive.blobs.stored(session))
        events = session.execute(text("SELECT event, target FROM audit_events")).all()
    assert ("consent deleted", adult_2012) in events
    assert archive.search(SearchCriteria(name="obrien")).consents[0].id in {recent, minor_2012}
    assert archive.due(today) == []


def test_the_audit_trail_cannot_be_changed_through_the_database(
    archive: Archive, catalog, demo_data
):
    archive.submit(validate_submission(demo_data, catalog), TABLET)
    with pytest.raises(Exception, match="append-only"):
        with archive.transaction() as session:
            session.execute(text("UPDATE audit_events SET ip = 'x'"))
    with pytest.raises(Exception, match="append-only"):
        with archive.transaction() as session:
            session.execute(text("DELETE FROM audit_events"))
