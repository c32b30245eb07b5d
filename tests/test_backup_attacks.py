"""A crafted backup is never restored as trusted: the backup key, the authenticated manifest, the
seal's private key only when asked for, no symbolic links, only certificates in the certificates
folder, and the restored audit trail and staff table checked against what the backup recorded.
On SQLite and PostgreSQL, through `intake backup ...`."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from sqlalchemy import update

from intake.archive.audit import CLI
from intake.archive.backup_key import BackupKey, make_key_file
from intake.archive.models import Staff
from intake.archive.service import Archive
from intake.archive.staff import create_staff
from intake.certificates import ClinicCertificate, _make_self_signed
from intake.cli.backup import NO_SEAL_KEY
from intake.definition import FormCatalog
from tests.support.app import Run, on_both_databases
from tests.support.backups import decrypt, encrypt, resign_manifest, unsigned_manifest
from tests.test_backup import backup_made, manifest_of, submit, verifies_against_archive

app_config = pytest.fixture(on_both_databases, name="app_config")
pytestmark = pytest.mark.usefixtures("backup_key", "fast_passwords")

HMAC_CHANGED = "manifest.json was changed after the backup was made: its HMAC does not match"
DOES_NOT_DECRYPT = (
    "does not decrypt with the backup key: changed, cut short, moved from another name, or made "
    "with another key"
)


def refused(intake: Run, folder: Path, problems: list[str], pg_bin: list[str]) -> None:
    """`backup verify` names exactly `problems`, and `backup restore` refuses with them."""
    result = intake("backup", "verify", folder, *pg_bin)
    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines() == [
        f"{folder}: NOT VERIFIED",
        *(f"  problem: {problem}" for problem in problems),
    ]
    result = intake("backup", "restore", folder, "--force", *pg_bin)
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [
        f"error: {folder} does not verify: nothing was restored",
        *(f"error: {problem}" for problem in problems),
    ]


def attacker_pem() -> tuple[ClinicCertificate, bytes]:
    """Someone else's self-signed seal: its certificate, and the PEM of certificate and key."""
    key, certificate = _make_self_signed("Attacker")
    kept = ClinicCertificate.of(certificate)
    return kept, kept.pem + key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def entry_of(folder: Path, name: str) -> dict[str, Any]:
    return next(e for e in manifest_of(folder)["files"] if e["file"] == name)


# --- the key -------------------------------------------------------------------------------------


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_key_file_is_owner_only_from_the_start_and_only_its_fingerprint_is_shown(
    intake: Run, tmp_path: Path
):
    out = tmp_path / "clinic.key"
    previous = os.umask(0)
    try:
        result = intake("backup", "key", "--out", out)
    finally:
        os.umask(previous)
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    secret = out.read_text().splitlines()[-1]
    assert len(secret) == 44 and secret not in result.output
    assert result.stdout.startswith(f"wrote {out}: backup key, fingerprint ")
    fingerprint = result.stdout.split("fingerprint ")[1].split()[0]
    assert len(fingerprint) == 64

    result = intake("backup", "key", "--out", out)
    assert result.exit_code == 2
    assert result.stderr == f"error: {out}: already exists: a key is never overwritten\n"
    assert out.read_text().splitlines()[-1] == secret


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_no_backup_without_a_key_and_none_with_a_key_others_can_read(
    intake: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("BACKUP_KEY_FILE")
    for command in (["create", "--out", tmp_path / "b"], ["verify", tmp_path]):
        result = intake("backup", *command)
        assert result.exit_code == 2
        assert result.stderr == (
            "error: BACKUP_KEY_FILE is not set: give the path of the backup key (make one with "
            "`intake backup key --out FILE` and keep it apart from the backups)\n"
        )
    assert not (tmp_path / "b").exists()
    loose = tmp_path / "loose.key"
    make_key_file(loose)
    loose.chmod(0o644)
    monkeypatch.setenv("BACKUP_KEY_FILE", str(loose))
    result = intake("backup", "create", "--out", tmp_path / "b")
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: BACKUP_KEY_FILE: {loose} can be read by other users: make it owner-only "
        "(chmod 600)\n"
    )


def test_a_backup_made_with_another_key_is_refused(
    intake: Run,
    archive: Archive,
    catalog: FormCatalog,
    demo_data: dict[str, Any],
    tmp_path: Path,
    pg_bin: list[str],
    backup_key: BackupKey,
    monkeypatch: pytest.MonkeyPatch,
):
    submit(archive, catalog, demo_data)
    folder = backup_made(intake, tmp_path / "backup", *pg_bin)
    other = make_key_file(tmp_path / "other.key")
    monkeypatch.setenv("BACKUP_KEY_FILE", str(tmp_path / "other.key"))
    refused(
        intake,
        folder,
        [
            f"made with another backup key (fingerprint {backup_key.fingerprint}); "
            f"BACKUP_KEY_FILE holds the key {other.fingerprint}"
        ],
        pg_bin,
    )


# --- what a backup holds -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "app_config",
    [
        pytest.param({"STORAGE": "files"}, id="files"),
        pytest.param({"STORAGE": "database"}, id="database"),
    ],
    indirect=True,
)
def test_a_backup_holds_nothing_readable_and_the_seal_key_only_when_asked(
    intake: Run,
    archive: Archive,
    catalog: FormCatalog,
    demo_data: dict[str, Any],
    tmp_path: Path,
    pg_bin: list[str],
    wipe: Callable[[], None],
    backup_key: BackupKey,
):
    consent_id = submit(archive, catalog, demo_data, legal_name="Philippa Quennell-Ashdown")
    with archive.transaction() as session:
        create_staff(
            session, email="ann@clinic.example", name="Ann Lee", role="admin",
            password="correct horse battery", actor=CLI,
        )  # fmt: skip
    with_key = backup_made(intake, tmp_path / "with-key", "--with-seal-key", *pg_bin)
    folder = backup_made(intake, tmp_path / "backup", *pg_bin)
    certificate = archive.signer().certificate.sha256
    names = [entry["file"] for entry in manifest_of(folder)["files"]]
    assert [n for n in names if n.startswith("certificates/")] == [
        f"certificates/{certificate}.pem"
    ]
    assert manifest_of(folder)["seal_key"] is False
    for path in (p for p in folder.rglob("*") if p.is_file() and p.name != "manifest.json"):
        data = path.read_bytes()
        assert data.startswith(b"intake-backup-1\n"), path
        for plain in (b"Quennell", b"ann@clinic", b"argon2", b"%PDF", b"SQLite format", b"KEY-"):
            assert plain not in data, (path, plain)
    manifest_text = (folder / "manifest.json").read_text()
    assert "ann@clinic" not in manifest_text and "argon2" not in manifest_text
    assert b"PRIVATE KEY" in decrypt(backup_key, with_key, "certificates/current-seal.pem")

    wipe()
    result = intake("backup", "restore", folder, *pg_bin)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1:] == [NO_SEAL_KEY]
    assert [p.name for p in archive.settings.certificates_dir.iterdir()] == [f"{certificate}.pem"]
    verifies_against_archive(intake, archive, consent_id, tmp_path)


# --- a changed backup is refused -----------------------------------------------------------------


def planted_certificate(folder: Path, key: BackupKey) -> list[str]:
    """Someone else's certificate put in, so that their forged PDFs would verify."""
    kept, _ = attacker_pem()
    (folder / "certificates" / f"{kept.sha256}.pem").write_bytes(kept.pem)
    return [f"certificates/{kept.sha256}.pem: not in the manifest"]


def planted_and_listed(folder: Path, key: BackupKey) -> list[str]:
    """The same, and the manifest made to list it, without the key."""
    kept, _ = attacker_pem()
    name = f"certificates/{kept.sha256}.pem"
    (folder / name).write_bytes(kept.pem)
    manifest = manifest_of(folder)
    manifest["files"].append({"file": name, "sha256": "0" * 64, "size": len(kept.pem)})
    unsigned_manifest(folder, manifest)
    return [HMAC_CHANGED]


def swapped_seal(folder: Path, key: BackupKey) -> list[str]:
    """`current-seal.pem` replaced with someone else's key: every later consent theirs."""
    _, pem = attacker_pem()
    (folder / "certificates" / "current-seal.pem").write_bytes(pem)
    entry = entry_of(folder, "certificates/current-seal.pem")
    found = hashlib.sha256(pem).hexdigest()
    return [
        f"certificates/current-seal.pem: SHA-256 {found} does not match the manifest "
        f"({entry['sha256']})"
    ]


def recomputed_manifest(folder: Path, key: BackupKey) -> list[str]:
    """A changed byte, and the manifest's SHA-256 and size computed again, without the key."""
    database = next(e["file"] for e in manifest_of(folder)["files"])
    path = folder / database
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    manifest = manifest_of(folder)
    for entry in manifest["files"]:
        if entry["file"] == database:
            entry["sha256"] = hashlib.sha256(data).hexdigest()
    unsigned_manifest(folder, manifest)
    return [HMAC_CHANGED]


def not_a_certificate(folder: Path, key: BackupKey) -> list[str]:
    """A file that is no certificate, encrypted and listed by someone who holds the key: every
    later seal check would stumble on it."""
    entry = encrypt(key, folder, "certificates/extra.pem", b"-----BEGIN NOTHING-----\n")
    manifest = manifest_of(folder)
    manifest["files"].append(entry)
    resign_manifest(folder, manifest, key)
    return ["certificates/extra.pem: not a certificate (PEM)"]


def kept_key_in_a_certificate(folder: Path, key: BackupKey) -> list[str]:
    """Someone else's certificate and key as a kept certificate, listed by a key holder, under a
    name that is not its fingerprint."""
    kept, pem = attacker_pem()
    manifest = manifest_of(folder)
    manifest["files"].append(encrypt(key, folder, "certificates/extra.pem", pem))
    resign_manifest(folder, manifest, key)
    return [
        f"certificates/extra.pem: holds the certificate {kept.sha256}, not the one its name says"
    ]


def files_swapped(folder: Path, key: BackupKey) -> list[str]:
    """Two encrypted files swapped, and their entries with them, by a key holder: each is bound
    to its own name."""
    first, second = "certificates/current-seal.pem", next(
        e["file"] for e in manifest_of(folder)["files"] if e["file"].endswith(".pem")
        and not e["file"].endswith("current-seal.pem")
    )  # fmt: skip
    a, b = (folder / first).read_bytes(), (folder / second).read_bytes()
    (folder / first).write_bytes(b)
    (folder / second).write_bytes(a)
    manifest = manifest_of(folder)
    entries = {e["file"]: e for e in manifest["files"]}
    entries[first], entries[second] = (
        {**entries[second], "file": first},
        {**entries[first], "file": second},
    )
    manifest["files"] = list(entries.values())
    resign_manifest(folder, manifest, key)
    return [f"{name}: {DOES_NOT_DECRYPT}" for name in sorted((first, second))]


def symbolic_link(folder: Path, key: BackupKey) -> list[str]:
    """A file of the backup replaced by a link to a copy elsewhere."""
    name = next(e["file"] for e in manifest_of(folder)["files"] if e["file"].startswith("pdfs/"))
    elsewhere = folder.parent / "elsewhere.pdf"
    shutil.move(folder / name, elsewhere)
    (folder / name).symlink_to(elsewhere)
    return [f"{name}: a symbolic link: a backup holds none"]


def linked_folder(folder: Path, key: BackupKey) -> list[str]:
    """The certificates folder replaced by a link to one elsewhere."""
    elsewhere = folder.parent / "certificates-elsewhere"
    shutil.move(folder / "certificates", elsewhere)
    (folder / "certificates").symlink_to(elsewhere, target_is_directory=True)
    return ["certificates: a symbolic link: a backup holds none"]


ATTACKS = [
    planted_certificate,
    planted_and_listed,
    swapped_seal,
    recomputed_manifest,
    not_a_certificate,
    kept_key_in_a_certificate,
    files_swapped,
    symbolic_link,
    linked_folder,
]


@pytest.mark.parametrize("attack", ATTACKS)
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_each_crafted_backup_is_refused_by_verify_and_restore(
    intake: Run,
    archive: Archive,
    catalog: FormCatalog,
    demo_data: dict[str, Any],
    tmp_path: Path,
    backup_key: BackupKey,
    wipe: Callable[[], None],
    attack: Callable[[Path, BackupKey], list[str]],
):
    submit(archive, catalog, demo_data)
    folder = backup_made(intake, tmp_path / "backup", "--with-seal-key")
    problems = attack(folder, backup_key)
    wipe()
    refused(intake, folder, problems, [])
    assert archive.counts() == {}
    assert not archive.settings.certificates_dir.exists()


@pytest.mark.parametrize("attack", [planted_and_listed, swapped_seal, files_swapped])
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_crafted_backups_are_refused_on_postgresql(
    intake: Run,
    archive: Archive,
    catalog: FormCatalog,
    demo_data: dict[str, Any],
    tmp_path: Path,
    backup_key: BackupKey,
    pg_bin: list[str],
    attack: Callable[[Path, BackupKey], list[str]],
):
    consent_id = submit(archive, catalog, demo_data)
    folder = backup_made(intake, tmp_path / "backup", "--with-seal-key", *pg_bin)
    refused(intake, folder, attack(folder, backup_key), pg_bin)
    assert archive.get(consent_id).pdf_sha256 is not None  # the archive is untouched


# --- the staff table and the audit trail ---------------------------------------------------------


def made_admin(archive: Archive) -> None:
    with archive.transaction() as session:
        session.execute(
            update(Staff).where(Staff.email == "ann@clinic.example").values(role="admin")
        )


def test_an_account_made_admin_in_the_database_copy_is_refused(
    intake: Run,
    archive: Archive,
    catalog: FormCatalog,
    demo_data: dict[str, Any],
    tmp_path: Path,
    backup_key: BackupKey,
    pg_bin: list[str],
    wipe: Callable[[], None],
):
    """A key holder puts in the database copy of a later backup, in which the front desk's
    account is an admin, and signs the manifest again: the staff table is not the one recorded."""
    submit(archive, catalog, demo_data)
    with archive.transaction() as session:
        create_staff(
            session, email="ann@clinic.example", name="Ann Lee", role="front-desk",
            password="correct horse battery", actor=CLI,
        )  # fmt: skip
    folder = backup_made(intake, tmp_path / "backup", *pg_bin)
    made_admin(archive)
    later = backup_made(intake, tmp_path / "later", *pg_bin)
    database = manifest_of(folder)["files"][0]["file"]
    assert database.startswith("archive.")
    shutil.copy(later / database, folder / database)
    manifest = manifest_of(folder)
    manifest["files"][0] = entry_of(later, database)
    resign_manifest(folder, manifest, backup_key)
    rows = manifest["audit"]["rows"]
    staff = (
        "the staff accounts (1) are not those the backup recorded (1): an account was added, "
        "removed, or its role, state or password changed"
    )
    wipe()
    # The copy is read before anything is restored (a PostgreSQL dump in a throwaway database).
    refused(
        intake,
        folder,
        [
            f"the audit trail ends at row {rows + 1} "
            f"({manifest_of(later)['audit']['head_sha256']}), the manifest says row {rows} "
            f"({manifest['audit']['head_sha256']})",
            staff,
        ],
        pg_bin,
    )
    assert archive.counts() == {}
    assert not archive.settings.certificates_dir.exists()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_role_edited_inside_the_database_copy_is_the_one_problem_named(
    intake: Run,
    archive: Archive,
    catalog: FormCatalog,
    demo_data: dict[str, Any],
    tmp_path: Path,
    backup_key: BackupKey,
    wipe: Callable[[], None],
):
    submit(archive, catalog, demo_data)
    with archive.transaction() as session:
        create_staff(
            session, email="ann@clinic.example", name="Ann Lee", role="front-desk",
            password="correct horse battery", actor=CLI,
        )  # fmt: skip
    folder = backup_made(intake, tmp_path / "backup")
    copy = tmp_path / "copy.sqlite3"
    copy.write_bytes(decrypt(backup_key, folder, "archive.sqlite3"))
    with sqlite3.connect(copy) as connection:
        connection.execute("UPDATE staff SET role = 'admin'")
    entry = encrypt(backup_key, folder, "archive.sqlite3", copy.read_bytes())
    manifest = manifest_of(folder)
    manifest["files"][0] = entry
    resign_manifest(folder, manifest, backup_key)
    wipe()
    refused(
        intake,
        folder,
        [
            "the staff accounts (1) are not those the backup recorded (1): an account was added, "
            "removed, or its role, state or password changed"
        ],
        [],
    )
