"""Check a backup: that the clinic's key made it, that every file is the one it made, and that
the database copy holds what the (authenticated) manifest recorded.

The order matters: a folder holding a symbolic link is refused before any file is read; the
manifest's HMAC is checked before anything it lists is trusted; only then is each file compared
with its entry and decrypted (every PDF's content must be the SHA-256 its name says, every file
of the certificates folder a certificate), and the database copy read.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    POSTGRESQL_FILE,
    SQLITE_FILE,
    certificate_entry,
    contents,
    decrypted,
    decrypted_file,
    decrypted_sha256,
    open_file,
    pdf_entry,
)
from intake.archive.database_copy import BackupError, last_lines, pg_tool, read_only_sqlite
from intake.archive.manifest import digest, entry_problems, is_file_entry
from intake.archive.models import PdfBlob
from intake.certificates import CURRENT_SEAL, ClinicCertificate

#: The manifest's field that authenticates the rest of it.
MAC_FIELD = "hmac_sha256"
#: The most a file of the certificates folder may hold (a certificate is a few kilobytes).
CERTIFICATE_MAX_BYTES = 1 << 20


@dataclass
class BackupCheck:
    """What checking a backup found: its manifest, every problem, and notes on what was not."""

    manifest: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def holds(self) -> bool:
        return not self.problems


def signed_manifest(manifest: dict[str, Any], key: BackupKey) -> dict[str, Any]:
    """The manifest with its HMAC (over everything else in it) as its last field."""
    return {**manifest, MAC_FIELD: key.mac(manifest)}


def verify_backup(path: Path, key: BackupKey, *, pg_bin: Path | None = None) -> BackupCheck:
    """Check the backup at `path` with `key`; every problem is named in `BackupCheck.problems`.

    A SQLite copy is decrypted and opened read-only: its consent counts, audit chain, newest
    hash and staff accounts must be the manifest's, and every archived consent's PDF must be in
    the backup. A PostgreSQL dump is decrypted and read back with `pg_restore --list` when
    pg_restore is found; its rows are checked once restored.
    """
    check = BackupCheck()
    links = _symbolic_links(path)
    if links:
        check.problems.extend(f"{name}: a symbolic link: a backup holds none" for name in links)
        return check
    manifest = _read_manifest(path, key, check)
    if manifest is None:
        return check
    check.manifest = manifest
    listed: dict[str, dict[str, Any]] = {entry["file"]: entry for entry in manifest["files"]}
    for name, entry in listed.items():
        problem = _entry_problem(path, name, entry, manifest)
        if problem:
            check.problems.append(f"{name}: {problem}")
    check.problems.extend(
        f"{name}: not in the manifest"
        for name in _files(path)
        if name not in listed and name != MANIFEST
    )
    database_file = DATABASE_FILES[manifest["database"]]
    if database_file not in listed:
        check.problems.append(f"{database_file}: not in the manifest")
    if not check.holds:
        return check
    for name in listed:
        problem = _content_problem(path, name, key)
        if problem:
            check.problems.append(f"{name}: {problem}")
    if not check.holds:
        return check
    if manifest["database"] == "sqlite":
        _check_sqlite_copy(path, manifest, key, set(listed), check)
    else:
        _check_postgresql_dump(path, key, pg_bin, check)
    return check


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


def _read_manifest(path: Path, key: BackupKey, check: BackupCheck) -> dict[str, Any] | None:
    """The manifest, or None (with the problem noted) when it is missing, not one we wrote, not
    made with `key`, or changed since."""
    try:
        with open_file(path / MANIFEST) as file:
            manifest = json.loads(file.read())
    except FileNotFoundError:
        check.problems.append(f"no {MANIFEST} in {path}: not a backup")
        return None
    except OSError as exc:
        check.problems.append(f"{MANIFEST}: cannot read: {exc.strerror or exc}")
        return None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        check.problems.append(f"{MANIFEST} is not valid JSON: {exc}")
        return None
    well_formed = (
        isinstance(manifest, dict)
        and manifest.get("format") == FORMAT
        and manifest.get("database") in DATABASE_FILES
        and manifest.get("storage") in ("files", "database")
        and isinstance(manifest.get("consents"), dict)
        and isinstance(manifest.get("audit"), dict)
        and isinstance(manifest.get("files"), list)
        and all(is_file_entry(e) for e in manifest["files"])
    )
    if not well_formed:
        check.problems.append(f"{MANIFEST} is not a backup manifest of format {FORMAT}")
        return None
    mac = manifest.pop(MAC_FIELD, None)
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
    if not key.mac_matches(manifest, mac):
        check.problems.append(
            f"{MANIFEST} was changed after the backup was made: its HMAC does not match"
        )
        return None
    return manifest


def _entry_problem(
    folder: Path, name: str, entry: dict[str, Any], manifest: dict[str, Any]
) -> str | None:
    """What is wrong with one file the manifest lists, as stored (encrypted), or None."""
    expected = (
        name == DATABASE_FILES[manifest["database"]]
        or (pdf_entry(name) is not None and manifest["storage"] == "files")
        or certificate_entry(name) is not None
    )
    if not expected:
        return "not a file a backup holds"
    try:
        with open_file(folder / name) as file:
            found = digest(file)
    except FileNotFoundError:
        return "missing from the backup"
    problems = entry_problems(entry, found)
    return problems[0] if problems else None


def _content_problem(folder: Path, name: str, key: BackupKey) -> str | None:
    """What is wrong with a file once decrypted: a PDF that is not the one its name says, a
    file of the certificates folder that is not a certificate; or one that does not decrypt."""
    try:
        if (sha256 := pdf_entry(name)) is not None:
            found = decrypted_sha256(key, folder, name)
            if found != sha256:
                return f"named for the SHA-256 {sha256}, the PDF it holds has the SHA-256 {found}"
        elif (file := certificate_entry(name)) is not None:
            return certificate_problem(file, _small_plaintext(key, folder, name))
        else:
            for _ in decrypted(key, folder, name):
                pass
    except BackupDamaged as exc:
        return str(exc)
    return None


def _small_plaintext(key: BackupKey, folder: Path, name: str) -> bytes:
    data = bytearray()
    for chunk in decrypted(key, folder, name):
        data += chunk
        if len(data) > CERTIFICATE_MAX_BYTES:
            break
    return bytes(data)


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
    path: Path, manifest: dict[str, Any], key: BackupKey, listed: set[str], check: BackupCheck
) -> None:
    pdfs = {sha256 for name in listed if (sha256 := pdf_entry(name))}
    with decrypted_file(key, path, SQLITE_FILE) as copy:
        engine = read_only_sqlite(copy)
        try:
            with engine.connect() as connection:
                # Each PDF's content was checked above; only whether it is there remains.
                stored_pdf = (
                    (lambda sha: sha if sha in pdfs else None)
                    if manifest["storage"] == "files"
                    else pdf_in_database(connection)
                )
                check.problems.extend(trust_problems(connection, manifest, key))
                check.problems.extend(compare(connection, manifest, stored_pdf))
        except DBAPIError as exc:
            check.problems.append(
                f"{SQLITE_FILE}: not an archive database SQLite can read: {exc.orig}"
            )
        finally:
            engine.dispose()


def _check_postgresql_dump(
    path: Path, key: BackupKey, pg_bin: Path | None, check: BackupCheck
) -> None:
    try:
        pg_restore = pg_tool("pg_restore", pg_bin)
    except BackupError as exc:
        check.notes.append(f"{exc}: the dump was checked by its SHA-256 and decryption only")
        return
    with decrypted_file(key, path, POSTGRESQL_FILE) as dump:
        listing = subprocess.run(
            [pg_restore, "--list", str(dump)], capture_output=True, text=True, check=False
        )
    if listing.returncode != 0:
        check.problems.append(
            f"{POSTGRESQL_FILE}: pg_restore cannot read it: {last_lines(listing)}"
        )


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
    for sha256 in found.pdfs:
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
