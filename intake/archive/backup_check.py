"""Check a backup: that the clinic's key made it, that every file is the one it made, and that
the database copy holds what the (authenticated) manifest recorded.

The order matters: a folder holding a symbolic link is refused before any file is read; the
manifest's HMAC is checked before anything it lists is trusted; only then is each file compared
with its entry and decrypted (every PDF's content must be the SHA-256 its name says, every file
of the certificates folder a certificate), and the database copy read. Nothing is held per file:
the manifest is read as a stream (`backup_manifest.py`), each file once, and the database's list
of PDFs is walked a page at a time.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import Connection, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from intake.archive import audit
from intake.archive.backup_key import SETTING, BackupDamaged, BackupKey
from intake.archive.backup_layout import (
    DATABASE_FILES,
    FORMAT,
    MANIFEST,
    PDFS,
    SQLITE_FILE,
    archived_pdfs,
    certificate_entry,
    contents,
    decrypted_file,
    open_file,
    pdf_entry,
)
from intake.archive.backup_manifest import (
    MAC_FIELD,
    Entries,
    authenticate,
    read_head,
)
from intake.archive.blobs import FileBlobs
from intake.archive.database_copy import read_only_sqlite
from intake.archive.manifest import ManifestUnreadable, entry_problems
from intake.archive.models import PdfBlob
from intake.certificates import CURRENT_SEAL, ClinicCertificate
from intake.progress import NO_PROGRESS, Progress

__all__ = ["MAC_FIELD", "BackupCheck", "signed_manifest", "verify_backup"]
#: The most a file of the certificates folder may hold (a certificate is a few kilobytes).
CERTIFICATE_MAX_BYTES = 1 << 20


@dataclass
class BackupCheck:
    """What checking a backup found: its manifest, every problem, and notes on what was not."""

    manifest: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: The manifest's file entries, read from the backup as they are walked.
    entries: Entries | None = None

    @property
    def holds(self) -> bool:
        return not self.problems


def signed_manifest(manifest: dict[str, Any], key: BackupKey) -> dict[str, Any]:
    """The manifest with its HMAC (over everything else in it) as its last field."""
    return {**manifest, MAC_FIELD: key.mac(manifest)}


def verify_backup(
    path: Path,
    key: BackupKey,
    *,
    pg_bin: Path | None = None,
    server_url: str | None = None,
    progress: Progress = NO_PROGRESS,
) -> BackupCheck:
    """Check the backup at `path` with `key`; every problem is named in `BackupCheck.problems`.

    Each file is read once: its stored bytes against the manifest's entry, and decrypted (a PDF
    must be the SHA-256 its name says). The database copy is then read: a SQLite copy opened
    read-only, a PostgreSQL dump restored into a throwaway database (`backup_pg_check.py`);
    its consent counts, audit chain, newest hash and staff accounts must be the manifest's, and
    every archived consent's PDF must be in the backup. `progress` counts the files.
    """
    check = BackupCheck()
    links = _symbolic_links(path)
    if links:
        check.problems.extend(f"{name}: a symbolic link: a backup holds none" for name in links)
        return check
    read = _read_manifest(path, key, check)
    if read is None:
        return check
    manifest, entries = read
    check.manifest, check.entries = manifest, entries
    progress.start(entries.count)
    stored: list[str] = []
    content: list[str] = []
    found = 0
    database_file = DATABASE_FILES[manifest["database"]]
    database_listed = False
    try:
        for entry in entries:
            name = entry["file"]
            database_listed = database_listed or name == database_file
            problem, content_problem = _file_problems(path, name, entry, manifest, key)
            if problem != MISSING:
                found += 1
            if problem:
                stored.append(f"{name}: {problem}")
            elif content_problem:
                content.append(f"{name}: {content_problem}")
            progress.advance()
    except BackupDamaged as exc:
        check.problems.append(str(exc))
        return check
    check.problems.extend(stored)
    if not entries.in_order or found != _count_files(path):
        listed = {entry["file"] for entry in entries}
        check.problems.extend(
            f"{name}: not in the manifest"
            for name in _files(path)
            if name not in listed and name != MANIFEST
        )
    if not database_listed:
        check.problems.append(f"{database_file}: not in the manifest")
    if not check.holds:
        return check
    check.problems.extend(content)
    if not check.holds:
        return check
    if manifest["database"] == "sqlite":
        _check_sqlite_copy(path, manifest, key, check)
    else:
        from intake.archive.backup_pg_check import check_postgresql_dump

        check_postgresql_dump(path, manifest, key, pg_bin, server_url, check)
    return check


#: What `_file_problems` says of a listed file that is not there.
MISSING = "missing from the backup"


def _symbolic_links(path: Path) -> list[str]:
    """Every symbolic link in the backup folder (the folder itself included), by name."""
    if path.is_symlink():
        return [str(path)]
    found = []
    for folder, folders, files in os.walk(path):
        for name in (*folders, *files):
            entry = Path(folder) / name
            if entry.is_symlink():
                found.append(entry.relative_to(path).as_posix())
    return sorted(found)


def _files(path: Path) -> list[str]:
    return sorted(p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file())


def _count_files(path: Path) -> int:
    """How many files the backup folder holds, the manifest left out."""
    count = 0
    for folder, _, files in os.walk(path):
        count += sum(1 for name in files if not (folder == str(path) and name == MANIFEST))
    return count


def _read_manifest(
    path: Path, key: BackupKey, check: BackupCheck
) -> tuple[dict[str, Any], Entries] | None:
    """The manifest's fields and its entries, or None (with the problem noted) when it is
    missing, not one we wrote, not made with `key`, or changed since."""
    try:
        manifest, files_type, sha256 = read_head(path)
    except FileNotFoundError:
        check.problems.append(f"no {MANIFEST} in {path}: not a backup")
        return None
    except OSError as exc:
        check.problems.append(f"{MANIFEST}: cannot read: {exc.strerror or exc}")
        return None
    except ManifestUnreadable as exc:
        check.problems.append(f"{MANIFEST} is not valid JSON: {exc}")
        return None
    entries = Entries(path, sha256)
    well_formed = (
        manifest.get("format") == FORMAT
        and manifest.get("database") in DATABASE_FILES
        and manifest.get("storage") in ("files", "database")
        and isinstance(manifest.get("consents"), dict)
        and isinstance(manifest.get("audit"), dict)
        and files_type == "array"
    )
    mac = manifest.pop(MAC_FIELD, None)
    authentic = None
    if well_formed:
        try:
            authentic = authenticate(entries, manifest, str(mac), key)
        except BackupDamaged as exc:
            check.problems.append(str(exc))
            return None
    if authentic is None:
        check.problems.append(f"{MANIFEST} is not a backup manifest of format {FORMAT}")
        return None
    if not isinstance(mac, str) or not isinstance(manifest.get("key"), str):
        check.problems.append(
            f"{MANIFEST} is not authenticated: the backup was not made with a backup key"
        )
        return None
    if manifest["key"] != key.fingerprint:
        check.problems.append(
            f"made with another backup key (fingerprint {manifest['key']}); {SETTING} holds "
            f"the key {key.fingerprint}"
        )
        return None
    if not authentic:
        check.problems.append(
            f"{MANIFEST} was changed after the backup was made: its HMAC does not match"
        )
        return None
    return manifest, entries


class _Digesting:
    """A reader that keeps the SHA-256 and size of what went through it."""

    def __init__(self, file: IO[bytes]) -> None:
        self.file, self.sha256, self.size = file, hashlib.sha256(), 0

    def read(self, size: int = -1) -> bytes:
        data = self.file.read(size)
        self.sha256.update(data)
        self.size += len(data)
        return data

    def rest(self) -> dict[str, Any]:
        while self.read(1 << 16):
            pass
        return {"sha256": self.sha256.hexdigest(), "size": self.size}


def _file_problems(
    folder: Path, name: str, entry: dict[str, Any], manifest: dict[str, Any], key: BackupKey
) -> tuple[str | None, str | None]:
    """What is wrong with one file the manifest lists as stored (encrypted), and what once
    decrypted (a PDF that is not the one its name says, a file of the certificates folder
    that is not a certificate, or one that does not decrypt); read once for both."""
    expected = (
        name == DATABASE_FILES[manifest["database"]]
        or (pdf_entry(name) is not None and manifest["storage"] == "files")
        or certificate_entry(name) is not None
    )
    if not expected:
        return "not a file a backup holds", None
    try:
        file = open_file(folder / name)
    except FileNotFoundError:
        return MISSING, None
    with file:
        reading = _Digesting(file)
        content = _content_problem(reading, name, key)
        found = reading.rest()
    problems = entry_problems(entry, found)
    return (problems[0] if problems else None), content


def _content_problem(file: IO[bytes], name: str, key: BackupKey) -> str | None:
    try:
        if (sha256 := pdf_entry(name)) is not None:
            digest = hashlib.sha256()
            for chunk in key.decrypt(file, name):
                digest.update(chunk)
            found = digest.hexdigest()
            if found != sha256:
                return f"named for the SHA-256 {sha256}, the PDF it holds has the SHA-256 {found}"
        elif (certificate := certificate_entry(name)) is not None:
            data = bytearray()
            for chunk in key.decrypt(file, name):
                data += chunk
                if len(data) > CERTIFICATE_MAX_BYTES:
                    break
            return certificate_problem(certificate, bytes(data))
        else:
            for _ in key.decrypt(file, name):
                pass
    except BackupDamaged as exc:
        return str(exc)
    return None


def certificate_problem(name: str, data: bytes) -> str | None:
    """Why `data` may not go into the certificates folder as `name`, or None: `<sha256>.pem`
    must be one PEM certificate of that fingerprint, `current-seal.pem` a certificate with its
    own private key."""
    try:
        certificate = x509.load_pem_x509_certificate(data)
    except ValueError:
        return "not a certificate (PEM)"
    kept = ClinicCertificate.of(certificate)
    if name != CURRENT_SEAL:
        if name != f"{kept.sha256}.pem":
            return f"holds the certificate {kept.sha256}, not the one its name says"
        if b"PRIVATE KEY" in data:
            return "holds a private key: only certificates are kept under this name"
        return None
    try:
        private = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        return "holds no private key for its certificate"
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    if private.public_key().public_bytes(
        serialization.Encoding.DER, public
    ) != certificate.public_key().public_bytes(serialization.Encoding.DER, public):
        return "its private key is not the key of its certificate"
    return None


def _check_sqlite_copy(
    path: Path, manifest: dict[str, Any], key: BackupKey, check: BackupCheck
) -> None:
    with decrypted_file(key, path, SQLITE_FILE) as copy:
        engine = read_only_sqlite(copy)
        try:
            with engine.connect() as connection:
                check.problems.extend(database_problems(path, connection, manifest, key))
        except DBAPIError as exc:
            check.problems.append(
                f"{SQLITE_FILE}: not an archive database SQLite can read: {exc.orig}"
            )
        finally:
            engine.dispose()


def database_problems(
    path: Path, connection: Connection, manifest: dict[str, Any], key: BackupKey
) -> list[str]:
    """Where the backup's database, opened on `connection`, differs from its manifest."""
    # Each PDF's content was checked, and no file is there unlisted: whether it is there is
    # what remains.
    stored_pdf = backup_pdf(path) if manifest["storage"] == "files" else pdf_in_database(connection)
    return [*trust_problems(connection, manifest, key), *compare(connection, manifest, stored_pdf)]


def backup_pdf(path: Path) -> Callable[[str], str | None]:
    """The SHA-256 of a PDF the backup at `path` holds (None: not there), once its files are
    checked."""

    def stored_pdf(sha256: str) -> str | None:
        return sha256 if (path / PDFS / FileBlobs.name(sha256)).is_file() else None

    return stored_pdf


def trust_problems(connection: Connection, manifest: dict[str, Any], key: BackupKey) -> list[str]:
    """Where a database's audit trail or staff accounts differ from what the backup recorded:
    what would let someone log in, or hide what was done, if it were restored."""
    problems = []
    found = contents(connection)
    with Session(bind=connection) as session:
        chain = audit.verify(session)
    if not chain.holds:
        problems.append(f"the audit trail is broken at row {chain.broken_seq}: {chain.reason}")
    recorded = (manifest["audit"].get("rows"), manifest["audit"].get("head_sha256"))
    if (found.audit_rows, found.audit_head) != recorded:
        problems.append(
            f"the audit trail ends at row {found.audit_rows} ({found.audit_head}), the "
            f"manifest says row {recorded[0]} ({recorded[1]})"
        )
    staff = manifest.get("staff")
    if staff != found.staff_record(key):
        accounts = staff.get("accounts") if isinstance(staff, dict) else None
        problems.append(
            f"the staff accounts ({len(found.staff)}) are not those the backup recorded "
            f"({accounts}): an account was added, removed, or its role, state or password "
            "changed"
        )
    return problems


def compare(
    connection: Connection, manifest: dict[str, Any], stored_pdf: Callable[[str], str | None]
) -> list[str]:
    """Where a database's consents and their PDFs differ from the manifest.

    `stored_pdf(sha256)` gives the SHA-256 of the PDF stored under that name, None if missing.
    """
    problems = []
    found = contents(connection)
    for state, count in found.consents.items():
        expected = manifest["consents"].get(state, 0)
        if count != expected:
            problems.append(
                f"the database holds {count} {state} consents, the manifest says {expected}"
            )
    for sha256 in archived_pdfs(connection):
        stored = stored_pdf(sha256)
        if stored is None:
            problems.append(f"the PDF {sha256} of an archived consent is missing")
        elif stored != sha256:
            problems.append(f"the PDF {sha256} of an archived consent has the SHA-256 {stored}")
    return problems


def pdf_in_database(connection: Connection) -> Callable[[str], str | None]:
    """The SHA-256 of a PDF stored in the database (None: not there)."""

    def stored_pdf(sha256: str) -> str | None:
        data = connection.scalar(select(PdfBlob.data).where(PdfBlob.sha256 == sha256))
        return None if data is None else hashlib.sha256(data).hexdigest()

    return stored_pdf
