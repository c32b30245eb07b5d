"""A full or read-only archive, for real: a small tmpfs mounted for the test, filled or remounted
read-only (we run as root, so file modes would not stop a write).

The archive folder (STORAGE=files): the consent is kept pending with a reason staff can read,
staff pages say so on every page, nothing the patient gave is lost, and once space returns the
consent is finished (by repair, at the next start or from the command line; by "Try again now";
or after the next consent is stored). The archive database (SQLite on the tmpfs, and PostgreSQL
refusing writes): `Archive.accept` raises `ArchiveUnavailable`, which the tablet catches.

Mounting needs root (CAP_SYS_ADMIN): without it these tests are skipped, or fail under CI=true.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import text

from intake.archive.audit import Actor
from intake.archive.errors import ArchiveError, ArchiveUnavailable
from intake.archive.models import ARCHIVED, PENDING
from intake.archive.search import SearchCriteria
from intake.archive.service import Archive, submission_of
from intake.submission import Submission, validate_submission
from tests.support.app import app_settings, new_app
from tests.support.databases import skip_or_fail
from tests.support.migrated import migrate
from tests.support.staff import StaffActions, add_consent, patient

pytestmark = pytest.mark.usefixtures("fast_passwords")

#: A name found nowhere else, to show it never reaches the log.
NAME = "Quintessa Vandersloot"
FULL = "the archive folder is full"
READ_ONLY = "the archive folder is read-only"
REASONS = {"full": FULL, "read-only": READ_ONLY}


class Disk:
    """A tmpfs of its own, which the test fills or makes read-only, and puts right again."""

    def __init__(self, mountpoint: Path, size: str = "2m") -> None:
        self.mountpoint = mountpoint
        self.filler = mountpoint / "filler"
        mountpoint.mkdir()
        try:
            mounted = subprocess.run(
                ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(mountpoint)],
                capture_output=True,
                text=True,
                check=False,
            )
        except OSError as error:
            skip_or_fail(f"cannot run mount: {error}")
        if mounted.returncode != 0:
            skip_or_fail(f"cannot mount a tmpfs (needs root): {mounted.stderr.strip()}")

    def _mount(self, *options: str) -> None:
        subprocess.run(
            ["mount", "-o", ",".join(["remount", *options]), str(self.mountpoint)],
            check=True,
            capture_output=True,
        )

    def fill(self) -> None:
        """Write a filler file until the disk says it is full."""
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            for size in (1 << 16, 1 << 12, 1 << 9, 1):
                block = b"\0" * size
                while True:
                    try:
                        os.write(fd, block)
                    except OSError as error:
                        assert error.errno == errno.ENOSPC
                        break
        finally:
            os.close(fd)

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)

    def read_only(self) -> None:
        self._mount("ro")

    def writable(self) -> None:
        self._mount("rw")

    def fail(self, how: str) -> None:
        self.fill() if how == "full" else self.read_only()

    def recover(self, how: str) -> None:
        self.free() if how == "full" else self.writable()

    def unmount(self) -> None:
        if subprocess.run(["umount", str(self.mountpoint)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(self.mountpoint)], check=False)


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Disk]:
    disk = Disk(tmp_path / "disk")
    yield disk
    disk.unmount()


@pytest.fixture
def app_config(tmp_path: Path, disk: Disk) -> dict[str, Any]:
    """The archive folder on the small disk; the database and the rest beside it."""
    return app_settings(tmp_path, ARCHIVE_DIR=disk.mountpoint / "archive")


@pytest.fixture
def data(demo_data: dict[str, Any]) -> dict[str, Any]:
    return patient(demo_data, NAME)


def signed(archive: Archive, data: dict[str, Any]) -> Submission:
    return validate_submission(data, archive.catalog)


def stored_files(archive: Archive) -> list[str]:
    """Every file under the archive folder, as `ab/<sha256>.pdf` (temporary files too)."""
    root = archive.settings.files_dir
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def named_files(archive: Archive) -> list[str]:
    with archive.engine.connect() as connection:
        shas = connection.execute(text("SELECT pdf_sha256 FROM consents")).scalars()
        return sorted(f"{sha[:2]}/{sha}.pdf" for sha in shas if sha)


def assert_archived_and_sealed(archive: Archive, consent_id: str) -> None:
    consent = archive.get(consent_id)
    assert consent.status == ARCHIVED and consent.last_error is None
    pdf = archive.pdf(consent_id)
    assert hashlib.sha256(pdf).hexdigest() == consent.pdf_sha256
    assert archive.check(pdf).holds
    assert stored_files(archive) == named_files(archive), "no unnamed file, no temporary file"


def banner(html: str) -> str:
    """The text of the "waiting" banner on a staff page ('' when there is none)."""
    match = re.search(r'<aside class="verdict bad waiting-notice".*?</aside>', html, re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(0))) if match else ""


@pytest.mark.parametrize("how", ["full", "read-only"])
def test_a_failing_archive_folder_keeps_the_consent_pending_until_it_works_again(
    archive: Archive,
    disk: Disk,
    desk: StaffActions,
    data: dict[str, Any],
    how: str,
    caplog: pytest.LogCaptureFixture,
):
    caplog.set_level(logging.INFO)
    earlier = add_consent(archive, patient(data, "Earlier Patient"))  # the folder exists
    disk.fail(how)

    consent_id = archive.submit(signed(archive, data), Actor())

    consent = archive.get(consent_id)
    assert consent.status == PENDING and consent.last_error == REASONS[how]
    assert submission_of(consent) == data, "every answer and stroke is kept"
    assert stored_files(archive) == named_files(archive), "no temporary file is left"
    assert NAME not in caplog.text and "Vandersloot" not in caplog.text
    assert f"{consent_id} stays pending: storing the PDF failed: {REASONS[how]}" in caplog.text

    listed = desk.client.get("/staff/").text
    assert "1 consent is waiting for the sealed PDF" in banner(listed)
    assert sentence(REASONS[how]) in banner(listed)
    assert "PDF not made yet" in listed and f"{sentence(REASONS[how])}." in listed
    page = desk.client.get(f"/staff/consents/{consent_id}").text
    assert "The sealed PDF could not be made yet" in page and sentence(REASONS[how]) in page
    assert banner(desk.client.get("/staff/patient-session").text), "every staff page says so"
    archive.wait_for_retry()  # the pages asked for a retry in the background: it failed too
    assert archive.get(consent_id).last_error == REASONS[how]

    disk.recover(how)
    report = archive.repair(Actor(), grace_seconds=0)
    assert report.finished == [consent_id] and report.failed == []
    assert_archived_and_sealed(archive, consent_id)
    assert_archived_and_sealed(archive, earlier)
    assert banner(desk.client.get("/staff/").text) == ""


def sentence(reason: str) -> str:
    return reason[:1].upper() + reason[1:]


def test_the_tablet_submit_is_received_while_the_folder_is_full(
    archive: Archive, disk: Disk, tablet, demo_data: dict[str, Any]
):
    tablet.fill(demo_data)
    disk.fill()
    response = tablet.submit()
    assert response.status_code == 302 and response.headers["Location"] == "/tablet/done"
    (consent,) = archive.search(SearchCriteria()).consents
    assert consent.status == PENDING and consent.last_error == FULL
    disk.free()
    assert archive.repair(Actor()).finished == [consent.id]
    assert_archived_and_sealed(archive, consent.id)


def test_the_next_stored_consent_finishes_those_that_waited(
    archive: Archive, disk: Disk, data: dict[str, Any]
):
    disk.fill()
    waiting = [
        archive.submit(signed(archive, patient(data, name)), Actor())
        for name in ("Ada One", "Bea Two")
    ]
    assert [archive.get(i).last_error for i in waiting] == [FULL, FULL]
    disk.free()
    latest = archive.submit(signed(archive, data), Actor())
    archive.wait_for_retry()
    for consent_id in [*waiting, latest]:
        assert_archived_and_sealed(archive, consent_id)


def test_a_staff_page_has_the_waiting_consents_tried_again_in_the_background(
    archive: Archive, disk: Disk, desk: StaffActions, data: dict[str, Any], monkeypatch
):
    disk.fill()
    consent_id = archive.submit(signed(archive, data), Actor())
    assert banner(desk.client.get("/staff/").text), "the page asks for a retry, which fails"
    archive.wait_for_retry()
    assert archive.get(consent_id).last_error == FULL

    disk.free()
    assert banner(desk.client.get("/staff/").text), "not again within the minute"
    archive.wait_for_retry()
    assert archive.get(consent_id).status == PENDING

    monkeypatch.setattr("intake.staff.pages.RETRY_EVERY", 0.0)
    assert banner(desk.client.get("/staff/").text), "this page still shows it waiting..."
    archive.wait_for_retry()
    assert banner(desk.client.get("/staff/").text) == "", "...the next one no longer"
    assert_archived_and_sealed(archive, consent_id)


@pytest.mark.parametrize("how", ["full", "read-only"])
def test_the_app_starts_on_a_failing_folder_and_the_repair_command_finishes_later(
    app, archive: Archive, disk: Disk, data: dict[str, Any], how: str, intake
):
    # A consent accepted just before the app stopped: the next start must finish it.
    consent_id = archive.accept(signed(archive, data), Actor())
    disk.fail(how)
    restarted = new_app(app.config)
    try:
        consent = restarted.extensions["archive"].get(consent_id)
        assert consent.status == PENDING and consent.last_error == REASONS[how]
    finally:
        restarted.extensions["archive"].dispose()

    result = intake("archive", "repair", "--grace", "0")
    assert result.exit_code == 1 and REASONS[how] in result.output + result.stderr

    disk.recover(how)
    result = intake("archive", "repair", "--grace", "0")
    assert result.exit_code == 0, result.output + result.stderr
    assert_archived_and_sealed(archive, consent_id)


def test_a_start_with_many_waiting_tries_the_folder_once(
    archive: Archive, disk: Disk, data: dict[str, Any], monkeypatch: pytest.MonkeyPatch
):
    ids = [
        archive.accept(signed(archive, patient(data, f"Pat Ient{i}")), Actor()) for i in range(4)
    ]
    disk.fill()
    made = []
    real = Archive._sealed_pdf
    monkeypatch.setattr(Archive, "_sealed_pdf", lambda self, c: made.append(c.id) or real(self, c))
    report = archive.repair(Actor())
    assert made == ids[:1], "one PDF is made; the rest wait for the same reason"
    assert report.failed == [(i, FULL) for i in ids]
    assert {archive.get(i).last_error for i in ids} == {FULL}


# --- the database itself ---------------------------------------------------------------------


@pytest.fixture
def db_on_disk(tmp_path: Path, disk: Disk) -> dict[str, Any]:
    """Settings with the SQLite archive database on the small disk."""
    return app_settings(tmp_path, DATABASE_URL=f"sqlite:///{disk.mountpoint}/archive.sqlite3")


@pytest.mark.parametrize("how", ["full", "read-only"])
def test_a_database_that_cannot_be_written_refuses_the_consent_with_archive_unavailable(
    db_on_disk: dict[str, Any],
    disk: Disk,
    demo_data: dict[str, Any],
    how: str,
    caplog: pytest.LogCaptureFixture,
):
    app = new_app(db_on_disk)
    archive: Archive = app.extensions["archive"]
    try:
        before = archive.submit(signed(archive, demo_data), Actor())
        if how == "read-only":
            archive.dispose()  # a file open for writing keeps a disk from going read-only
        disk.fail(how)
        with pytest.raises(ArchiveUnavailable) as raised:
            archive.submit(signed(archive, patient(demo_data, NAME)), Actor())
        error = raised.value
        assert isinstance(error, ArchiveError)
        assert error.reason == f"the archive database is {'full' if how == 'full' else 'read-only'}"
        assert str(error) == f"The consent could not be saved: {error.reason}."
        assert error.__suppress_context__, "the database error (quoting values) is not chained"
        assert NAME not in caplog.text and "Vandersloot" not in caplog.text

        archive.dispose()
        disk.recover(how)
        again = archive.submit(signed(archive, patient(demo_data, NAME)), Actor())
        assert [c.id for c in archive.search(SearchCriteria()).consents] == [again, before]
        assert archive.get(again).status == ARCHIVED
    finally:
        archive.dispose()


@pytest.fixture
def postgres_url(postgres_server) -> Iterator[str]:
    url = postgres_server.create_database()
    migrate(url)
    yield url
    postgres_server.drop_database(url)


def read_only(postgres_server, url: str, on: bool) -> None:
    """New connections to `url`'s database start read-only (or no longer do)."""
    name, value = url.rsplit("/", 1)[1], "on" if on else "off"
    admin = postgres_server.url("postgres").replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = {value}')


def test_postgresql_refusing_writes_keeps_the_consent_pending_or_refuses_it(
    tmp_path: Path, postgres_server, postgres_url: str, demo_data: dict[str, Any]
):
    app = new_app(app_settings(tmp_path, DATABASE_URL=postgres_url, STORAGE="database"))
    archive: Archive = app.extensions["archive"]
    try:
        accepted = archive.accept(signed(archive, demo_data), Actor())
        read_only(postgres_server, postgres_url, True)
        archive.engine.dispose()  # new connections take the database's new default
        assert archive.finish(accepted, Actor()) is False
        with pytest.raises(ArchiveUnavailable, match="the archive database is read-only"):
            archive.accept(signed(archive, patient(demo_data, NAME)), Actor())

        read_only(postgres_server, postgres_url, False)
        archive.engine.dispose()
        assert archive.get(accepted).status == PENDING
        assert archive.repair(Actor()).finished == [accepted]
        assert archive.check(archive.pdf(accepted)).holds
    finally:
        archive.dispose()


@pytest.mark.parametrize("how", ["full", "read-only"])
def test_the_app_starts_when_its_first_certificate_cannot_be_made(
    tmp_path: Path, disk: Disk, data: dict[str, Any], how: str, caplog: pytest.LogCaptureFixture
):
    """The certificates folder on a failing disk before the app has made its self-signed
    certificate: the app starts and says so, a consent waits with the reason, and it is sealed
    once the disk works."""
    config = app_settings(tmp_path, CERTIFICATES_DIR=disk.mountpoint / "certificates")
    disk.fail(how)
    with caplog.at_level(logging.ERROR, logger="intake"):
        app = new_app(config)
    archive: Archive = app.extensions["archive"]
    try:
        assert any(
            "sealing certificate" in r.getMessage() and "certificates folder" in r.getMessage()
            for r in caplog.records
        ), [r.getMessage() for r in caplog.records]
        consent_id = archive.accept(signed(archive, data), Actor())
        assert not archive.finish(consent_id, Actor())
        consent = archive.get(consent_id)
        assert consent.status == PENDING
        assert consent.last_error == (
            "the clinic's sealing certificate cannot be made: the certificates folder "
            + REASONS[how].removeprefix("the archive folder ")
        )
        disk.recover(how)
        assert archive.finish(consent_id, Actor())
        assert_archived_and_sealed(archive, consent_id)
    finally:
        archive.dispose()
