"""`intake backup create|verify|restore`: back up, wipe, restore, and every consent verifies; on
SQLite and a real PostgreSQL, with the PDFs in files and in the database. Every backup here is
made with the key in BACKUP_KEY_FILE (`backup_key` in tests/support/backups.py); the attacks on
a backup are in tests/test_backup_attacks.py."""

from __future__ import annotations

import hashlib
import json
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import select

from intake.archive import backup
from intake.archive.audit import CLI, Actor, row_sha256
from intake.archive.backup_key import BackupKey
from intake.archive.migrate import alembic_config, current_revision, head_revision
from intake.archive.models import ARCHIVED, AuditEvent
from intake.archive.search import SearchCriteria
from intake.archive.service import Archive
from intake.archive.staff import create_staff
from intake.definition import FormCatalog
from intake.submission import validate_submission
from tests.support.app import Run, on_both_databases
from tests.support.backups import decrypt, encrypt, resign_manifest

app_config = pytest.fixture(on_both_databases, name="app_config")
pytestmark = pytest.mark.usefixtures("backup_key")

TABLET = Actor(ip="192.0.2.7", user_agent="Tablet")
STORAGES = [
    pytest.param({"STORAGE": "files"}, id="files"),
    pytest.param({"STORAGE": "database"}, id="database"),
]


def submit(archive: Archive, catalog: FormCatalog, data: dict[str, Any], **changes: Any) -> str:
    return archive.submit(validate_submission({**data, **changes}, catalog), TABLET)


def make_consents(archive: Archive, catalog: FormCatalog, demo_data: dict[str, Any]) -> list[str]:
    """Three archived consents, one pending, a staff account and a review."""
    ids = [
        submit(archive, catalog, demo_data, signed_at=f"2026-0{month}-02T10:00:00-05:00")
        for month in (1, 2, 3)
    ]
    ids.append(archive.accept(validate_submission(demo_data, catalog), TABLET))
    with archive.transaction() as session:
        member = create_staff(
            session, email="ann@clinic.example", name="Ann Lee", role="clinician",
            password="correct horse battery", actor=CLI,
        )  # fmt: skip
    archive.review(ids[0], member, "Seen; fine to inject.", TABLET)
    return ids


def backup_made(intake: Run, out: Path, *args: str) -> Path:
    """Back up to the new folder `out`; its path."""
    result = intake("backup", "create", "--out", out, *args)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"wrote {out}: consents ")
    return out


def manifest_of(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "manifest.json").read_text())


def newest_event(archive: Archive) -> AuditEvent:
    with archive.sessions() as session:
        return session.scalar(select(AuditEvent).order_by(AuditEvent.seq.desc()))


def flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def verifies_against_archive(intake: Run, archive: Archive, consent_id: str, folder: Path) -> None:
    """`intake verify --archive` holds for the consent's stored PDF: sealed by a certificate in
    CERTIFICATES_DIR, and the very file the archive's row records."""
    path = folder / f"{consent_id}.pdf"
    path.write_bytes(archive.pdf(consent_id))
    result = intake("verify", path, "--archive")
    assert result.exit_code == 0, result.output
    assert f"  archive: matches consent {consent_id} (stored " in result.stdout


# --- back up, wipe, restore --------------------------------------------------------------------


@pytest.mark.parametrize("app_config", STORAGES, indirect=True)
def test_back_up_wipe_restore_and_every_consent_verifies(
    intake: Run,
    archive: Archive,
    catalog: FormCatalog,
    demo_data: dict[str, Any],
    tmp_path: Path,
    pg_bin: list[str],
    wipe: Callable[[], None],
):
    ids = make_consents(archive, catalog, demo_data)
    counts = archive.counts()
    pdfs = {consent_id: archive.pdf(consent_id) for consent_id in ids[:3]}
    folder = backup_made(intake, tmp_path / "backup", "--with-seal-key", *pg_bin)
    manifest = manifest_of(folder)
    manifest_sha256 = hashlib.sha256((folder / "manifest.json").read_bytes()).hexdigest()
    assert manifest["consents"] == {"archived": 3, "pending": 1, "deleted": 0}
    assert (manifest["database"], manifest["storage"]) == (
        archive.engine.dialect.name,
        archive.settings.storage,
    )
    event = newest_event(archive)
    assert (event.event, event.target, event.user_agent) == (
        "backup made",
        manifest_sha256,
        CLI.user_agent,
    )
    assert manifest["audit"]["rows"] == event.seq - 1  # the copy was made before its own event
    result = intake("backup", "verify", folder, *pg_bin)
    assert result.exit_code == 0, result.output

    wipe()
    result = intake("backup", "restore", folder, *pg_bin)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"restored {folder}: consents 3 archived, 1 pending, 0 deleted; audit trail "
        f"{manifest['audit']['rows']} rows",
        "  1 consents are pending: the app finishes them when it starts "
        "(or run `intake archive repair`)",
    ]
    assert archive.counts() == counts
    for consent_id, pdf in pdfs.items():
        assert archive.pdf(consent_id) == pdf
        verifies_against_archive(intake, archive, consent_id, tmp_path)
    assert [review.note for review in archive.reviews(ids[0])] == ["Seen; fine to inject."]
    assert intake("staff", "list").stdout == "ann@clinic.example\tAnn Lee\tclinician\tactive\n"
    event = newest_event(archive)
    assert (event.event, event.target, event.seq) == (
        "backup restored",
        manifest_sha256,
        manifest["audit"]["rows"] + 1,
    )
    result = intake("audit", "verify")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"audit trail holds: {manifest['audit']['rows'] + 1} rows\n"

    # The pending consent is finished, and sealed with the restored certificate.
    assert intake("archive", "repair").exit_code == 0
    assert archive.get(ids[3]).status == ARCHIVED
    verifies_against_archive(intake, archive, ids[3], tmp_path)
    assert sorted(p.name for p in archive.settings.certificates_dir.glob("*.pem")) == [
        entry["file"].removeprefix("certificates/")
        for entry in manifest["files"]
        if entry["file"].startswith("certificates/")
    ]


def test_a_backup_is_owner_only_and_holds_what_its_manifest_lists(
    intake: Run,
    archive: Archive,
    catalog: FormCatalog,
    demo_data: dict[str, Any],
    tmp_path: Path,
    pg_bin: list[str],
):
    ids = [submit(archive, catalog, demo_data) for _ in range(2)]
    result = intake("backup", "create", "--out", tmp_path, "--with-seal-key", *pg_bin)
    assert result.exit_code == 0, result.output
    (folder,) = [p for p in tmp_path.iterdir() if p.name.startswith("intake-backup-")]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # nothing left
    assert result.stdout.splitlines()[0] == (
        f"wrote {folder}: consents 2 archived, 0 pending, 0 deleted; audit trail 4 rows"
    )
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for path in folder.rglob("*"):
        assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600), path
    manifest = manifest_of(folder)
    shas = sorted(archive.get(consent_id).pdf_sha256 for consent_id in ids)
    certificate = archive.signer().certificate.sha256
    database = archive.engine.dialect.name
    assert [entry["file"] for entry in manifest["files"]] == [
        backup.DATABASE_FILES[database],
        *sorted(["certificates/current-seal.pem", f"certificates/{certificate}.pem"]),
        *(f"pdfs/{sha[:2]}/{sha}.pdf" for sha in shas),
    ]
    for entry in manifest["files"]:
        data = (folder / entry["file"]).read_bytes()
        assert (hashlib.sha256(data).hexdigest(), len(data)) == (entry["sha256"], entry["size"])
    with archive.sessions() as session:
        head = session.scalar(select(AuditEvent).where(AuditEvent.seq == 4))
    assert manifest["audit"] == {"rows": 4, "head_sha256": row_sha256(head)}
    assert manifest["schema"] is not None

    result = intake("backup", "verify", folder, *pg_bin)
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"{folder}: consents 2 archived, 0 pending, 0 deleted; audit trail 4 rows; made "
        f"{manifest['made_at']} ({database}, STORAGE=files); every file as the manifest records\n"
    )


# --- a backup that was changed is refused ------------------------------------------------------


@pytest.mark.parametrize(
    ("database_url", "app_config"),
    [
        pytest.param("sqlite", {"STORAGE": "files"}, id="sqlite-files"),
        pytest.param("postgresql", {"STORAGE": "database"}, id="postgresql-database"),
    ],
    indirect=True,
)
def test_a_changed_byte_is_refused_by_verify_and_restore(
    intake: Run,
    archive: Archive,
    catalog: FormCatalog,
    demo_data: dict[str, Any],
    tmp_path: Path,
    pg_bin: list[str],
    wipe: Callable[[], None],
):
    consent_id = submit(archive, catalog, demo_data)
    submit(archive, catalog, demo_data)
    folder = backup_made(intake, tmp_path / "backup", *pg_bin)
    if archive.settings.storage == "files":
        sha256 = archive.get(consent_id).pdf_sha256
        name = f"pdfs/{sha256[:2]}/{sha256}.pdf"
    else:  # the PDFs are inside the dump
        name = "archive.pgdump"
    recorded = next(e["sha256"] for e in manifest_of(folder)["files"] if e["file"] == name)
    flip_a_byte(folder / name)
    changed = hashlib.sha256((folder / name).read_bytes()).hexdigest()
    problem = f"{name}: SHA-256 {changed} does not match the manifest ({recorded})"

    result = intake("backup", "verify", folder, *pg_bin)
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [f"{folder}: NOT VERIFIED", f"  problem: {problem}"]

    wipe()
    result = intake("backup", "restore", folder, *pg_bin)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: {folder} does not verify: nothing was restored",
        f"error: {problem}",
    ]
    assert archive.counts() == {}
    assert not archive.settings.certificates_dir.exists()


def edit_manifest(folder: Path, change: Callable[[dict[str, Any]], None], key: BackupKey) -> None:
    """The manifest changed by someone who holds the key (its HMAC made again): what the
    backup's other checks must still catch."""
    manifest = manifest_of(folder)
    change(manifest)
    resign_manifest(folder, manifest, key)


def pdf_entry(sha256: str) -> str:
    return f"pdfs/{sha256[:2]}/{sha256}.pdf"


def changed_and_listed(folder: Path, sha256: str, key: BackupKey) -> str:
    """A PDF changed (and encrypted again with the key), and the manifest changed to match: its
    name still says what it was."""
    name = pdf_entry(sha256)
    pdf = bytearray(decrypt(key, folder, name))
    pdf[len(pdf) // 2] ^= 0x01
    changed = hashlib.sha256(pdf).hexdigest()
    entry = encrypt(key, folder, name, bytes(pdf))

    def match(manifest: dict[str, Any]) -> None:
        manifest["files"] = [entry if e["file"] == name else e for e in manifest["files"]]

    edit_manifest(folder, match, key)
    return f"{name}: named for the SHA-256 {sha256}, the PDF it holds has the SHA-256 {changed}"


def removed_and_unlisted(folder: Path, sha256: str, key: BackupKey) -> str:
    """A PDF gone, and gone from the manifest: the database copy still names it."""
    (folder / pdf_entry(sha256)).unlink()
    edit_manifest(
        folder,
        lambda m: m.update(files=[e for e in m["files"] if e["file"] != pdf_entry(sha256)]),
        key,
    )
    return f"the PDF {sha256} of an archived consent is missing"


def slipped_in(folder: Path, sha256: str, key: BackupKey) -> str:
    (folder / "certificates" / "extra.pem").write_text("not ours")
    return "certificates/extra.pem: not in the manifest"


def removed(folder: Path, sha256: str, key: BackupKey) -> str:
    (folder / pdf_entry(sha256)).unlink()
    return f"{pdf_entry(sha256)}: missing from the backup"


@pytest.mark.parametrize("change", [changed_and_listed, removed_and_unlisted, slipped_in, removed])
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_verify_names_each_kind_of_change(
    intake: Run,
    archive: Archive,
    catalog: FormCatalog,
    demo_data: dict[str, Any],
    tmp_path: Path,
    backup_key: BackupKey,
    change: Callable[[Path, str, BackupKey], str],
):
    sha256 = archive.get(submit(archive, catalog, demo_data)).pdf_sha256
    folder = backup_made(intake, tmp_path / "backup")
    problem = change(folder, sha256, backup_key)
    result = intake("backup", "verify", folder)
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [f"{folder}: NOT VERIFIED", f"  problem: {problem}"]


@pytest.mark.parametrize(
    ("manifest", "problem"),
    [
        (None, "no manifest.json in {folder}: not a backup"),
        (b"{not json", "manifest.json is not valid JSON: "),
        (b'{"format": 2}', "manifest.json is not a backup manifest of format 1"),
    ],
)
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_verify_names_a_missing_or_foreign_manifest(
    intake: Run, tmp_path: Path, manifest: bytes | None, problem: str
):
    folder = backup_made(intake, tmp_path / "backup")
    if manifest is None:
        (folder / "manifest.json").unlink()
    else:
        (folder / "manifest.json").write_bytes(manifest)
    result = intake("backup", "verify", folder)
    assert result.exit_code == 1
    assert result.stdout.splitlines()[1].startswith(f"  problem: {problem.format(folder=folder)}")


# --- restoring over an archive, or into the wrong one -----------------------------------------


def test_restore_refuses_an_archive_that_is_not_empty_unless_forced(
    intake: Run,
    archive: Archive,
    catalog: FormCatalog,
    demo_data: dict[str, Any],
    tmp_path: Path,
    pg_bin: list[str],
):
    kept = submit(archive, catalog, demo_data)
    folder = backup_made(intake, tmp_path / "backup", *pg_bin)
    later = submit(archive, catalog, demo_data)
    rows = newest_event(archive).seq

    result = intake("backup", "restore", folder, *pg_bin)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: the archive is not empty (2 consents, {rows} audit trail rows, 2 PDFs in "
        f"{archive.settings.files_dir}): restoring would replace it; stop the app, back the "
        "archive up, and give --force to replace it"
    ]
    assert archive.get(later).status == ARCHIVED

    result = intake("backup", "restore", folder, "--force", *pg_bin)
    assert result.exit_code == 0, result.output
    assert archive.counts() == {ARCHIVED: 1}
    assert [consent.id for consent in archive.search(SearchCriteria()).consents] == [kept]
    verifies_against_archive(intake, archive, kept, tmp_path)
    assert intake("audit", "verify").exit_code == 0
    # The PDF of the consent made after the backup is now named by no row: repair removes it.
    result = intake("archive", "repair")
    assert result.stdout.splitlines()[0].endswith(", 1 unnamed PDFs removed")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_restore_refuses_a_backup_of_other_storage(
    intake: Run,
    archive: Archive,
    catalog: FormCatalog,
    demo_data: dict[str, Any],
    tmp_path: Path,
    wipe: Callable[[], None],
    monkeypatch: pytest.MonkeyPatch,
):
    submit(archive, catalog, demo_data)
    folder = backup_made(intake, tmp_path / "backup")
    wipe()
    monkeypatch.setenv("STORAGE", "database")
    result = intake("backup", "restore", folder)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: the backup was made with STORAGE=files and this archive has STORAGE=database: "
        "set STORAGE=files"
    ]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_restore_refuses_a_backup_of_another_database(
    intake: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pg_bin: list[str]
):
    with monkeypatch.context() as sqlite:
        sqlite.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/other.sqlite3")
        assert intake("db", "upgrade").exit_code == 0
        folder = backup_made(intake, tmp_path / "backup")
    result = intake("backup", "restore", folder, *pg_bin)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: the backup holds a sqlite database and DATABASE_URL names postgresql: restore "
        "it into the kind of database it was made from"
    ]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_restore_that_does_not_match_the_manifest_says_where(
    intake: Run,
    archive: Archive,
    catalog: FormCatalog,
    demo_data: dict[str, Any],
    tmp_path: Path,
    wipe: Callable[[], None],
    monkeypatch: pytest.MonkeyPatch,
):
    sha256 = archive.get(submit(archive, catalog, demo_data)).pdf_sha256
    folder = backup_made(intake, tmp_path / "backup")
    rows = manifest_of(folder)["audit"]["rows"]
    wipe()
    monkeypatch.setattr(backup, "_restore_pdfs", lambda *args: None)  # a disk that lost them
    result = intake("backup", "restore", folder)
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{folder}: restored, but the archive does not match the manifest",
        f"  problem: the PDF {sha256} of an archived consent is missing",
    ]
    assert newest_event(archive).seq == rows  # no "backup restored"


def test_a_backup_of_an_older_schema_is_restored_and_brought_up_to_date(
    intake: Run,
    archive: Archive,
    catalog: FormCatalog,
    demo_data: dict[str, Any],
    tmp_path: Path,
    pg_bin: list[str],
    wipe: Callable[[], None],
    backup_key: BackupKey,
):
    consent_id = submit(archive, catalog, demo_data)
    archive.dispose()
    first = "0001"
    command.downgrade(alembic_config(archive.settings.database_url), first)
    pg = Path(pg_bin[1]) if pg_bin else None
    made = backup.make_backup(archive, tmp_path / "backup", CLI, backup_key, pg_bin=pg)
    assert made.manifest["schema"] == first

    wipe()
    result = intake("backup", "restore", made.path, *pg_bin)
    assert result.exit_code == 0, result.output
    assert current_revision(archive.engine) == head_revision() != first
    verifies_against_archive(intake, archive, consent_id, tmp_path)
    assert intake("audit", "verify").exit_code == 0


# --- consistency while the app runs --------------------------------------------------------------


@pytest.mark.parametrize("app_config", STORAGES[:1], indirect=True)
def test_backups_taken_while_consents_are_submitted_hold_every_consents_pdf(
    intake: Run,
    archive: Archive,
    catalog: FormCatalog,
    demo_data: dict[str, Any],
    tmp_path: Path,
    pg_bin: list[str],
    wipe: Callable[[], None],
):
    made: list[str] = []
    stop = threading.Event()

    def submit_until_stopped() -> None:
        while not stop.is_set():
            made.append(submit(archive, catalog, demo_data))

    submitter = threading.Thread(target=submit_until_stopped)
    submitter.start()
    folders = []
    try:
        for n in range(3):
            while len(made) < 2 * (n + 1):  # at least two more archived consents each time
                stop.wait(0.01)
            folders.append(backup_made(intake, tmp_path / f"backup-{n}", *pg_bin))
    finally:
        stop.set()
        submitter.join()
    counts = [manifest_of(folder)["consents"] for folder in folders]
    archived = [count["archived"] for count in counts]
    assert 2 <= archived[0] < archived[1] < archived[2] < len(made), (archived, len(made))
    for folder in folders:
        result = intake("backup", "verify", folder, *pg_bin)
        assert result.exit_code == 0, result.output

    wipe()
    result = intake("backup", "restore", folders[1], *pg_bin)
    assert result.exit_code == 0, result.output
    # A consent the app had accepted but not yet sealed comes back pending.
    assert archive.counts() == {state: n for state, n in counts[1].items() if n}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_consents_committed_between_the_database_copy_and_the_pdfs_are_left_out(
    intake: Run,
    archive: Archive,
    catalog: FormCatalog,
    demo_data: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
):
    before = [submit(archive, catalog, demo_data) for _ in range(2)]
    copy_pdfs = backup._copy_pdfs
    after: list[str] = []

    def app_commits_meanwhile(*args: Any) -> bool:
        after.extend(submit(archive, catalog, demo_data) for _ in range(2))
        return copy_pdfs(*args)

    monkeypatch.setattr(backup, "_copy_pdfs", app_commits_meanwhile)
    folder = backup_made(intake, tmp_path / "backup")
    assert len(after) == 2
    pdfs = sorted(p.stem for p in (folder / "pdfs").rglob("*.pdf"))
    assert pdfs == sorted(archive.get(consent_id).pdf_sha256 for consent_id in before)
    assert manifest_of(folder)["consents"]["archived"] == 2
    assert intake("backup", "verify", folder).exit_code == 0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_consent_deleted_during_the_backup_makes_it_start_again(
    intake: Run,
    archive: Archive,
    catalog: FormCatalog,
    demo_data: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
):
    old = submit(archive, catalog, demo_data, signed_at="2012-03-01T10:00:00-06:00")
    submit(archive, catalog, demo_data)
    copy_pdfs = backup._copy_pdfs
    calls: list[int] = []

    def admin_deletes_meanwhile(*args: Any) -> bool:
        if not calls:
            archive.delete(old, CLI)
        calls.append(1)
        return copy_pdfs(*args)

    monkeypatch.setattr(backup, "_copy_pdfs", admin_deletes_meanwhile)
    folder = backup_made(intake, tmp_path / "backup")
    assert len(calls) == 2
    assert manifest_of(folder)["consents"] == {"archived": 1, "pending": 0, "deleted": 1}
    assert intake("backup", "verify", folder).exit_code == 0


@pytest.mark.parametrize("damage", ["changed", "missing"])
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_damaged_pdf_stops_the_backup_and_an_earlier_one_mends_it(
    intake: Run,
    archive: Archive,
    catalog: FormCatalog,
    demo_data: dict[str, Any],
    tmp_path: Path,
    damage: str,
    backup_key: BackupKey,
):
    consent_id = submit(archive, catalog, demo_data)
    backups = tmp_path / "backups"
    backups.mkdir()
    earlier = backup_made(intake, backups / "earlier")
    sha256 = archive.get(consent_id).pdf_sha256
    stored = archive.blobs.path(sha256)
    if damage == "changed":
        flip_a_byte(stored)
        now = hashlib.sha256(stored.read_bytes()).hexdigest()
        problem = f"changed after it was stored (its SHA-256 is now {now})"
    else:
        stored.unlink()
        problem = "is missing"
    rows = newest_event(archive).seq

    result = intake("backup", "create", "--out", backups / "later")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: the stored PDF {stored} (consent {consent_id}) {problem}: copy "
        f"{pdf_entry(sha256)} from an earlier backup in its place"
    ]
    assert [p.name for p in backups.iterdir()] == ["earlier"]  # no temporary folder left
    assert newest_event(archive).seq == rows

    stored.write_bytes(decrypt(backup_key, earlier, pdf_entry(sha256)))
    backup_made(intake, backups / "later")


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_create_into_a_missing_folder(intake: Run, tmp_path: Path):
    out = tmp_path / "nowhere" / "backup"
    result = intake("backup", "create", "--out", out)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [f"error: {out}: cannot write: no folder {out.parent}"]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_create_without_pg_dump_says_where_to_find_it(
    intake: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("PATH", str(tmp_path))
    result = intake("backup", "create", "--out", tmp_path / "backup")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: pg_dump not found on PATH: install the PostgreSQL client programs, or give "
        "--pg-bin with the folder that holds them (such as /usr/lib/postgresql/15/bin)"
    ]
    assert not (tmp_path / "backup").exists()
    result = intake("backup", "create", "--out", tmp_path / "backup", "--pg-bin", tmp_path)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [f"error: --pg-bin: no pg_dump in {tmp_path}"]
