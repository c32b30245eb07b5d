"""The backup folder's layout, what its manifest records of a database, and its files' I/O.

Making (`backup.py`) and checking (`backup_check.py`) a backup share this: the names of its
files, the `Contents` of a database copy as the manifest records them, and the one way a file of
the backup is written (encrypted, as it streams) and read (never through a symbolic link).
"""

from __future__ import annotations

import hashlib
import heapq
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, func, inspect, select, union

from intake.archive.backup_key import BackupKey
from intake.archive.blobs import FileBlobs
from intake.archive.course_models import Record
from intake.archive.models import ARCHIVED, DELETED, PENDING, AuditHead, Consent, Staff
from intake.certificates import is_certificate_file
from intake.safe_write import make_folders, safe_file

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_FILE = "archive.sqlite3"
POSTGRESQL_FILE = "archive.pgdump"
PDFS = "pdfs"
CERTIFICATES = "certificates"
DATABASE_FILES = {"sqlite": SQLITE_FILE, "postgresql": POSTGRESQL_FILE}
STATES = (ARCHIVED, PENDING, DELETED)


@dataclass(frozen=True)
class Contents:
    """What a copy of the archive database holds, as the manifest records it."""

    schema: str | None
    #: Consents by state: archived, pending, deleted.
    consents: dict[str, int]
    audit_rows: int
    audit_head: str
    #: How many distinct PDFs the archived consents and course records name (`archived_pdfs`
    #: walks them).
    pdf_count: int
    #: Each staff account as [email, role, active, password hash], by email: what may log in.
    staff: list[list[Any]]

    def manifest_fields(self, key: BackupKey) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "consents": self.consents,
            "audit": {"rows": self.audit_rows, "head_sha256": self.audit_head},
            "staff": self.staff_record(key),
        }

    def staff_record(self, key: BackupKey) -> dict[str, Any]:
        """The staff table's count and keyed digest: no hash or address can be read from it."""
        return {"accounts": len(self.staff), "hmac_sha256": key.mac(self.staff)}


def contents(connection: Connection) -> Contents:
    counts = dict(
        connection.execute(select(Consent.status, func.count()).group_by(Consent.status)).all()
    )
    head = connection.execute(select(AuditHead.seq, AuditHead.sha256).where(AuditHead.id == 1))
    rows, head_sha256 = head.one()
    schema = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    named = union(
        *(
            select(column.label("sha256")).where(*archived)
            for column, archived in _pdf_columns(connection)
        )
    ).subquery()
    pdf_count = connection.scalar(select(func.count()).select_from(named))
    staff = connection.execute(
        select(Staff.email, Staff.role, Staff.active, Staff.password_hash).order_by(Staff.email)
    )
    return Contents(
        schema=schema,
        consents={state: counts.get(state, 0) for state in STATES},
        audit_rows=rows,
        audit_head=head_sha256,
        pdf_count=pdf_count or 0,
        staff=[[email, role, bool(active), hash_] for email, role, active, hash_ in staff],
    )


#: How many PDF names `archived_pdfs` reads at a time.
PDF_PAGE = 1000


def _pdf_columns(connection: Connection) -> list[tuple[Any, tuple[Any, ...]]]:
    """The columns naming archived PDFs, with what makes a row archived: the consents', and
    the course records' (a copy made before the course had records names consents' only)."""
    columns = [(Consent.pdf_sha256, (Consent.status == ARCHIVED, Consent.pdf_sha256.is_not(None)))]
    if inspect(connection).has_table(Record.__tablename__):
        columns.append(
            (Record.pdf_sha256, (Record.status == ARCHIVED, Record.pdf_sha256.is_not(None)))
        )
    return columns


def _keyset(connection: Connection, column: Any, archived: tuple[Any, ...]) -> Iterator[str]:
    after = ""
    while True:
        page = connection.scalars(
            select(column)
            .where(*archived, column > after)
            .distinct()
            .order_by(column)
            .limit(PDF_PAGE)
        ).all()
        yield from page
        if len(page) < PDF_PAGE:
            return
        after = page[-1]
        page.clear()  # not held while the next page is read: one page at a time, not two


def archived_pdfs(connection: Connection) -> Iterator[str]:
    """The SHA-256 of every archived consent's and course record's PDF, once each, in order:
    each table read by keyset pages (on the index of `pdf_sha256`) and the two merged, so
    memory stays one page whatever the archive's size."""
    previous = None
    for sha256 in heapq.merge(*(_keyset(connection, *c) for c in _pdf_columns(connection))):
        if sha256 != previous:
            yield sha256
        previous = sha256


def summary(manifest: dict[str, Any]) -> str:
    """The consents and audit rows a manifest records, in one phrase."""
    counts = manifest["consents"]
    states = ", ".join(f"{counts.get(state, 0)} {state}" for state in STATES)
    return f"consents {states}; audit trail {manifest['audit']['rows']} rows"


def pdf_entry(name: str) -> str | None:
    """The SHA-256 of the PDF a backup's file name holds (`pdfs/` and the store's own name)."""
    prefix = f"{PDFS}/"
    return FileBlobs.sha256_named(name.removeprefix(prefix)) if name.startswith(prefix) else None


def certificate_entry(name: str) -> str | None:
    """The certificates folder's file a backup's file name holds, or None."""
    folder, _, file = name.partition("/")
    return file if folder == CERTIFICATES and is_certificate_file(file) else None


# --- the files -----------------------------------------------------------------------------------


class _Digesting:
    """A writer that passes bytes on and keeps their SHA-256 and size: the manifest entry of
    an encrypted file, computed as it is written."""

    def __init__(self, target: Any) -> None:
        self.target, self.sha256, self.size = target, hashlib.sha256(), 0

    def write(self, data: bytes) -> int:
        self.sha256.update(data)
        self.size += len(data)
        return self.target.write(data)

    def entry(self, name: str) -> dict[str, Any]:
        return {"file": name, "sha256": self.sha256.hexdigest(), "size": self.size}


def write_encrypted(
    key: BackupKey, source: IO[bytes], folder: Path, name: str, *, synced: bool = True
) -> dict[str, Any]:
    """Encrypt `source` into the backup `folder` as `name` (owner-only); its manifest entry.

    Not `synced`: written straight to its name, with no fsync of its own, for a folder that is
    synced once when all its files are written (`safe_write.sync_tree`) and only then renamed
    to where it counts."""
    path = folder / name
    make_folders(path.parent)
    if not synced:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        with os.fdopen(os.open(path, flags, 0o600), "wb") as file:
            digesting = _Digesting(file)
            key.encrypt(source, digesting, name)
        return digesting.entry(name)
    with safe_file(path) as file:
        digesting = _Digesting(file)
        key.encrypt(source, digesting, name)
    return digesting.entry(name)


def open_file(path: Path) -> IO[bytes]:
    """A backup's file opened for reading; `OSError` (ELOOP) if it is a symbolic link."""
    return os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC), "rb")


def decrypted(key: BackupKey, folder: Path, name: str) -> Iterator[bytes]:
    """The plaintext of the backup's file `name`, a chunk at a time (`BackupDamaged`)."""
    with open_file(folder / name) as file:
        yield from key.decrypt(file, name)


def decrypted_sha256(key: BackupKey, folder: Path, name: str) -> str:
    sha256 = hashlib.sha256()
    for chunk in decrypted(key, folder, name):
        sha256.update(chunk)
    return sha256.hexdigest()


@contextmanager
def decrypted_file(key: BackupKey, folder: Path, name: str) -> Iterator[Path]:
    """The backup's file `name` decrypted into a private temporary folder, for the block (a
    database that SQLite or pg_restore reads, a PDF to put back); removed after it."""
    with tempfile.TemporaryDirectory(prefix="intake-restore-") as scratch:
        target = Path(scratch) / Path(name).name
        with safe_file(target) as file:
            for chunk in decrypted(key, folder, name):
                file.write(chunk)
        yield target
