"""Retention takes a patient's details with their last consent, on both databases: the course
keeps the consent from the patient's last entry (a check-in, a withdrawal), and once it is
deleted the patient row keeps no name, date of birth, contact details or search words, their
course records lose their bodies and PDFs, and the name is nowhere: not in the SQLite file's
bytes (nor its write-ahead log), not in any PostgreSQL row, not in a new backup, not in an
export. A patient who keeps another consent keeps their details. The audit chain holds and
names ids only."""

from __future__ import annotations

import io
import json
import re
import subprocess
import zipfile
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from intake.archive import audit
from intake.archive.accounts import Accounts
from intake.archive.audit import Actor
from intake.archive.backup_key import BackupKey
from intake.archive.backup_layout import POSTGRESQL_FILE, SQLITE_FILE
from intake.archive.course_models import VISIT_OPEN, Patient, PatientName, Record, Visit
from intake.archive.errors import ArchiveError
from intake.archive.injections import InjectionEntry, Injections
from intake.archive.lots import Lots, NewLot
from intake.archive.models import AuditEvent, Base, Consent
from intake.archive.visits import Visits
from intake.archive.withdrawals import WithdrawalRequest, withdraw
from tests.support.app import Run, on_both_databases
from tests.support.backups import decrypt
from tests.support.course import TABLET, checkin, enrolled_tablet
from tests.support.course_rows import add_visit
from tests.support.databases import find_pg_bin
from tests.support.staff import PASSWORD, add_consent, make_staff, patient

app_config = pytest.fixture(on_both_databases, name="app_config")
pytestmark = pytest.mark.usefixtures("fast_passwords", "backup_key")

NAME = "Quintessa Marlowe-Yardley"
#: What must be gone: the name's parts (as UTF-8 and as SQLite or pg_dump may hold them), the
#: phone number and the e-mail address.
TRACES = ("Quintessa", "Marlowe", "+1 555 010 9876", "quintessa@example.org")
KEPT = "Bartholomew Keepwell"
#: Past the last entry's retention (today + 10 years).
LATER = date.today() + timedelta(days=366 * 11)


def consent_of(demo_data: dict[str, Any], name: str, signed_at: str, **patient: str) -> dict:
    data = json.loads(json.dumps(demo_data))
    data["patient"].update(legal_name=name, preferred_name=name.split()[0], **patient)
    data["patient"]["emergency_contact"]["name"] = "Someone Else"
    data["signature"]["typed_name"] = name
    data["signed_at"] = signed_at
    return data


@pytest.fixture
def course(archive, demo_data) -> dict[str, str]:
    """A patient whose only consent is from 2012, with a check-in and a withdrawal since; and a
    patient who keeps a recent consent."""
    data = consent_of(
        demo_data, NAME, "2012-03-01T10:00:00-06:00",
        phone="+1 555 010 9876", email="quintessa@example.org",
    )  # fmt: skip
    consent_id = add_consent(archive, data)
    patient_id = archive.get(consent_id).patient_id
    kept_id = add_consent(archive, consent_of(demo_data, KEPT, "2026-11-02T10:00:00-06:00"))
    tablet_id = enrolled_tablet(archive)
    with archive.transaction() as session:
        visit = Visit(
            patient_id=patient_id, consent_id=consent_id, status=VISIT_OPEN,
            started_at=archive.clock(), device_id=tablet_id,
        )  # fmt: skip
        session.add(visit)
        session.flush()
        visit_id = visit.id
    definition = archive.catalog.get("b12-methylcobalamin")
    visits = Visits(archive)
    visits.check_in(visit_id, tablet_id, checkin(definition), TABLET, device={})
    with archive.transaction() as session:
        session.get(Visit, visit_id).review_note = "Quintessa said she felt fine."
    clinician = make_staff(archive, "clinician")
    request = WithdrawalRequest(date.today(), "Quintessa Marlowe-Yardley moves away")
    withdraw(archive, consent_id, request, clinician, Actor(staff_id=clinician.id))
    return {"consent": consent_id, "patient": patient_id, "kept": kept_id}


def traces_in(data: bytes) -> list[str]:
    return [t for t in TRACES if t.encode() in data or t.encode("utf-16-le") in data]


def database_traces(archive) -> tuple[list[str], bool]:
    """The traces found in the database (SQLite: the file's and the log's bytes; PostgreSQL:
    every row of every table as text), and whether the kept patient's name was found there."""
    url = make_url(archive.settings.database_url)
    if url.get_backend_name() == "sqlite":
        archive.dispose()
        path = Path(url.database)
        data = path.read_bytes()
        wal = path.with_name(path.name + "-wal")
        data += wal.read_bytes() if wal.exists() else b""
        return traces_in(data), KEPT.encode() in data
    rows = []
    with archive.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            rows += connection.execute(text(f'SELECT t::text FROM "{table.name}" t')).scalars()
    data = "\n".join(rows).encode()
    return traces_in(data), KEPT.encode() in data


def backup_database(intake: Run, archive, key: BackupKey, tmp_path: Path) -> bytes:
    """The database inside a new backup, as bytes to search (a pg_dump as its SQL text)."""
    pg = find_pg_bin() if archive.engine.dialect.name == "postgresql" else None
    folder = tmp_path / "backup"
    args = ["--pg-bin", str(pg)] if pg else []
    result = intake("backup", "create", "--out", folder, *args)
    assert result.exit_code == 0, result.output
    if pg is None:
        return decrypt(key, folder, SQLITE_FILE)
    dump = tmp_path / "dump"
    dump.write_bytes(decrypt(key, folder, POSTGRESQL_FILE))
    return subprocess.run(
        [str(pg / "pg_restore"), "-f", "-", str(dump)], check=True, capture_output=True
    ).stdout


def export_contents(intake: Run, tmp_path: Path) -> bytes:
    """Every file of a new export, uncompressed, and every PDF's text."""
    out = tmp_path / "export" / "archive.zip"
    out.parent.mkdir(parents=True)
    result = intake("export", "--since", "2000-01-01", "--out", out)
    assert result.exit_code == 0, result.output
    parts = []
    with zipfile.ZipFile(out) as archive_zip:
        for name in archive_zip.namelist():
            data = archive_zip.read(name)
            parts.append(name.encode() + b"\n" + data)
            if name.endswith(".pdf"):
                pages = PdfReader(io.BytesIO(data)).pages
                parts.append(" ".join(p.extract_text() for p in pages).encode())
    return b"\n".join(parts)


def test_retention_runs_from_the_patients_last_entry(archive, course):
    consent = archive.get(course["consent"])
    with archive.sessions() as session:
        last = session.get(Patient, course["patient"]).last_entry_on
    assert last == date.today(), "the withdrawal is the patient's last entry"
    assert archive.retained_until(consent) == last.replace(year=last.year + 10)
    assert course["consent"] not in {c.id for c in archive.due(date.today())}
    with pytest.raises(ArchiveError, match="kept until"):
        archive.delete(course["consent"], Actor(), date(2030, 1, 1))


def test_an_injection_moves_the_patients_last_entry(archive, demo_data):
    """The injection path's own `touch`: retention of the consent runs from the day given."""
    consent_id = add_consent(archive, patient(demo_data, KEPT, flagged=False))
    patient_id = archive.get(consent_id).patient_id
    with archive.transaction() as session:
        session.get(Patient, patient_id).last_entry_on = date(2026, 1, 1)
    visit_id = add_visit(archive, patient_id, consent_id)
    clinician = make_staff(archive, "clinician")
    token = Accounts(archive).login(clinician.email, PASSWORD, Actor(ip="192.0.2.9"))
    zone = ZoneInfo("UTC")
    given_at = datetime.now(zone) - timedelta(minutes=1)
    lot = Lots(archive).add(
        NewLot("Methylcobalamin", "1 mg/ml", "Pharmacy", "E-1", given_at.date() + timedelta(200)),
        Actor(), today=given_at.date(),
    )  # fmt: skip
    entry = InjectionEntry(
        lot_id=lot.id, dose_mg=1.0, volume_ml=1.0, site="deltoid", side="left", given_at=given_at
    )
    Injections(archive, zone).record(
        visit_id, entry, clinician, token=token, password=PASSWORD, code="",
        actor=Actor(staff_id=clinician.id), today=given_at.date(),
    )  # fmt: skip
    with archive.sessions() as session:
        assert session.get(Patient, patient_id).last_entry_on == given_at.date()
    until = archive.retained_until(archive.get(consent_id))
    assert until == given_at.date().replace(year=given_at.year + 10)


def test_the_last_consent_takes_the_patients_details_with_it(
    archive, intake, course, backup_key, tmp_path
):
    with archive.sessions() as session:
        records = list(
            session.scalars(select(Record).where(Record.patient_id == course["patient"]))
        )
    assert sorted(r.kind for r in records) == ["visit", "withdrawal"]
    pdfs = {r.pdf_sha256 for r in records}
    before = export_contents(intake, tmp_path / "before")
    assert traces_in(before), "the export names the patient while they are kept"

    archive.delete(course["consent"], Actor(), LATER)

    kept_id = archive.get(course["kept"]).patient_id
    with archive.sessions() as session:
        patient = session.get(Patient, course["patient"])
        assert (patient.legal_name, patient.first_name) == ("", "")
        assert None is patient.date_of_birth is patient.phone is patient.email is patient.address
        assert patient.erased_at is not None and patient.next_due_on is None
        assert (
            session.scalars(select(PatientName).where(PatientName.patient_id == patient.id)).all()
            == []
        )
        for record in session.scalars(select(Record).where(Record.patient_id == patient.id)):
            assert record.status == "deleted" and record.body_json is None
            assert record.pdf_sha256 is None
        assert not pdfs & set(archive.blobs.stored(session))
        erased = session.scalars(
            select(AuditEvent).where(AuditEvent.event == "patient erased")
        ).all()
        assert [e.target for e in erased] == [patient.id]
        assert audit.verify(session).holds
        kept = session.get(Patient, kept_id)
        assert kept.legal_name == KEPT and kept.erased_at is None

    in_export = export_contents(intake, tmp_path / "after")
    assert traces_in(in_export) == [] and KEPT.encode() in in_export
    in_backup = backup_database(intake, archive, backup_key, tmp_path)
    assert traces_in(in_backup) == [] and KEPT.encode() in in_backup
    found, kept_found = database_traces(archive)
    assert found == [] and kept_found


def test_an_erased_patients_page_still_opens_and_names_no_one(archive, desk, course):
    archive.delete(course["consent"], Actor(), LATER)
    kept_page = desk.client.get(f"/staff/patients/{archive.get(course['kept']).patient_id}").text
    assert "erased-notice" not in kept_page and KEPT in kept_page
    page = desk.client.get(f"/staff/patients/{course['patient']}")
    assert page.status_code == 200
    assert traces_in(page.text.replace("&#39;", "'").encode()) == []
    # A notice says what happened and when, instead of a blank name and empty details.
    text = page.text.replace("&#39;", "'")
    assert "A patient whose details are erased" in text
    assert re.search(r"Details erased \w{3} \d{1,2}, \d{4}, \d{1,2}:\d\d [AP]M", text)
    assert "Retention erased this patient's details with their last kept consent" in text
    assert '<h1 class="patient-name"></h1>' not in text and "Legal name" not in text
    assert desk.post("/staff/patients/search", {"name": "Marlowe"}).status_code == 302
    assert f"/staff/patients/{course['patient']}" not in desk.client.get("/staff/patients").text


def test_a_patient_who_keeps_a_consent_keeps_their_details(archive, demo_data):
    old = add_consent(archive, consent_of(demo_data, NAME, "2012-03-01T10:00:00-06:00"))
    patient_id = archive.get(old).patient_id
    newer = add_consent(archive, consent_of(demo_data, NAME, "2026-11-02T10:00:00-06:00"))
    with archive.transaction() as session:
        session.get(Consent, newer).patient_id = patient_id
    archive.delete(old, Actor(), date(2026, 12, 1))
    with archive.sessions() as session:
        patient = session.get(Patient, patient_id)
        assert patient.legal_name == NAME and patient.erased_at is None
        assert session.scalars(select(PatientName).where(PatientName.patient_id == patient_id))
        assert not session.scalars(
            select(AuditEvent).where(AuditEvent.event == "patient erased")
        ).all()
