"""Back up the whole archive to a folder, check such a folder, and restore one.

A backup is a folder, owner-only (it holds health data), every file in it encrypted with the
clinic's backup key (`backup_key.py`: AES-256-GCM in chunks, the file's name bound in):

- `archive.sqlite3`: a copy of the SQLite database made with SQLite's online backup, so the app
  may keep running; or `archive.pgdump`: `pg_dump -Fc` of the PostgreSQL database;
- `pdfs/ab/<sha256>.pdf`: with `STORAGE=files`, the sealed PDF of every consent in that copy of
  the database (with `STORAGE=database` the PDFs are inside the database);
- `certificates/`: every certificate the clinic has sealed with; the self-signed one's private
  key (`current-seal.pem`) only when asked for (`with_seal_key`);
- `manifest.json`, readable and authenticated with an HMAC of the key: when and from what it
  was made, the key's fingerprint, the consents by state, the audit trail's length and newest
  hash, a keyed digest of the staff accounts, and the SHA-256 and size of every other file.

The database is copied first, at one moment (PostgreSQL: pg_dump runs in a snapshot that the
list of PDFs to copy is read from too); then the PDFs its rows name are copied. A PDF is stored
before the row that names it commits (see `blobs.py`), so every row in the copy finds its file,
however many consents the app commits meanwhile. The folder is written as a hidden partial folder
beside its destination (its files with no fsync each, then the whole folder synced once, then
manifest.json), then renamed into place; a partial folder left by a process that died is removed
by the next backup. Nothing is held per consent: the PDFs' names come a page at a time, the
manifest's entries wait in an unnamed temporary file (`backup_manifest.py`).

Restoring checks the whole backup first (`backup_check.py`), refuses an archive that already
holds consents, staff, audit rows or PDFs unless forced, then puts the PDFs and certificates
back, and the database last (a restore cut short leaves no consent; run again, it carries on),
and checks the result against the manifest before it records "backup restored". A restored
audit trail or staff table that is not the one recorded is emptied again.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import os
import shutil
import tempfile
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic.script import ScriptDirectory
from cryptography import x509
from sqlalchemy import Connection, func, inspect, select

from intake.archive import audit
from intake.archive.audit import Actor
from intake.archive.backup_check import (
    BackupCheck,
    backup_pdf,
    certificate_problem,
    compare,
    pdf_in_database,
    trust_problems,
    verify_backup,
)
from intake.archive.backup_key import BackupKey
from intake.archive.backup_layout import (
    CERTIFICATES,
    DATABASE_FILES,
    FORMAT,
    PDFS,
    POSTGRESQL_FILE,
    SQLITE_FILE,
    STATES,
    Contents,
    archived_pdfs,
    certificate_entry,
    contents,
    decrypted,
    decrypted_file,
    open_file,
    pdf_entry,
    summary,
    write_encrypted,
)
from intake.archive.backup_manifest import Entries, EntryLog, write_manifest
from intake.archive.blobs import FileBlobs
from intake.archive.database_copy import (
    BackupError,
    copy_sqlite,
    dump_postgresql,
    empty_database,
    pg_tool,
    read_only_sqlite,
    restore_postgresql,
    restore_sqlite,
    sqlite_path,
)
from intake.archive.manifest import file_digest
from intake.archive.migrate import alembic_config, upgrade
from intake.archive.models import AuditHead, Consent, Staff
from intake.archive.service import Archive
from intake.certificates import CURRENT_SEAL, ClinicCertificate, restore_certificate_file
from intake.progress import NO_PROGRESS, Progress
from intake.safe_write import fsync_folder, make_folders, sync_tree

#: What the CLI and the tests reach through this module.
__all__ = [
    "DATABASE_FILES",
    "STATES",
    "BackupCheck",
    "BackupReport",
    "RestoreReport",
    "make_backup",
    "restore_backup",
    "summary",
    "verify_backup",
]

#: A backup made into an existing folder is named by the time it was made.
FOLDER_NAME = "intake-backup-{:%Y%m%dT%H%M%SZ}"
#: A consent deleted (retention) between the database copy and its PDF's copy takes its PDF
#: with it; the backup then starts again from a new copy, this many times at most.
ATTEMPTS = 3


@dataclass(frozen=True)
class BackupReport:
    path: Path
    manifest: dict[str, Any]
    #: SHA-256 of manifest.json: what the audit event names.
    manifest_sha256: str


# --- making a backup -----------------------------------------------------------------------------


def make_backup(
    archive: Archive,
    out: Path,
    actor: Actor,
    key: BackupKey,
    *,
    pg_bin: Path | None = None,
    with_seal_key: bool = False,
    progress: Progress = NO_PROGRESS,
) -> BackupReport:
    """Back up `archive` to the new folder `out` (or a new, dated folder inside `out`),
    encrypted and authenticated with `key`; the seal's private key only `with_seal_key`.
    `progress` counts the PDFs copied.

    Raises `BackupError` (and leaves nothing at the destination) when it cannot; records the
    audit event "backup made" once the folder is in place. The folder is written as a hidden
    `.<name>.<random>.partial` beside its destination, with manifest.json last: a backup cut
    short (a kill, a power cut) is never taken for one, and the next backup into that folder
    removes what it left.
    """
    made_at = datetime.now(UTC).replace(microsecond=0)
    destination = out / FOLDER_NAME.format(made_at) if out.is_dir() else out
    if destination.exists():
        raise BackupError(f"{destination}: already exists: give a new folder")
    if not destination.parent.is_dir():
        raise BackupError(f"{destination}: cannot write: no folder {destination.parent}")
    remove_abandoned(destination.parent)
    for _ in range(ATTEMPTS):
        tmp = Path(
            tempfile.mkdtemp(dir=destination.parent, prefix=f".{destination.name}.", suffix=PARTIAL)
        )
        lock = _hold(tmp)
        log = EntryLog()
        try:
            with _database_copy(archive, tmp, key, pg_bin, log) as (copied, connection):
                _copy_certificates(archive.settings.certificates_dir, tmp, key, with_seal_key, log)
                if archive.settings.storage == "files":
                    progress.start(copied.pdf_count)
                    if not _copy_pdfs(archive, connection, tmp, key, log, progress):
                        continue
            head = {
                "format": FORMAT,
                "made_at": made_at.isoformat(),
                "database": archive.engine.dialect.name,
                "storage": archive.settings.storage,
                **copied.manifest_fields(key),
                "key": key.fingerprint,
                "seal_key": with_seal_key,
            }
            # Every file reaches the disk before the manifest names it, the manifest before
            # the folder takes its name.
            sync_tree(tmp)
            manifest_sha256 = write_manifest(tmp, head, log, key)
            with archive.transaction() as session:
                audit.record(session, "backup made", actor, manifest_sha256)
                # Renamed inside the transaction: a failed rename rolls the audit event back.
                os.rename(tmp, destination)
            fsync_folder(destination.parent)
            return BackupReport(destination, head, manifest_sha256)
        finally:
            log.close()
            shutil.rmtree(tmp, ignore_errors=True)
            os.close(lock)
    raise BackupError(
        f"consents were deleted while each of {ATTEMPTS} backups was being made: run it again"
    )


#: How a backup being written is named, beside its destination, until it is complete.
PARTIAL = ".partial"


def _hold(folder: Path) -> int:
    """Lock the folder a backup is being written in, for as long as its process lives: a
    later backup removes a partial folder only when no process holds it."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd


def remove_abandoned(parent: Path) -> list[Path]:
    """Remove the partial backups in `parent` whose process is gone (killed, or the machine
    stopped); those being written now are held (`_hold`) and stay. The ones removed."""
    removed = []
    for folder in parent.glob(f".*{PARTIAL}"):
        if folder.is_symlink() or not folder.is_dir():
            continue
        try:
            fd = _hold(folder)
        except BlockingIOError:
            continue
        try:
            shutil.rmtree(folder)
            removed.append(folder)
        finally:
            os.close(fd)
    if removed:
        fsync_folder(parent)
    return removed


@contextmanager
def _database_copy(
    archive: Archive, folder: Path, key: BackupKey, pg_bin: Path | None, log: EntryLog
) -> Iterator[tuple[Contents, Connection]]:
    """Copy the database into `folder`, encrypted; what the copy holds, and a connection that
    reads the copy (SQLite) or the very snapshot it was dumped from (PostgreSQL), for the
    block. The plain copy lives in the owner-only temporary folder only until the block ends."""
    url = archive.settings.database_url
    plain = folder / ".plain"
    try:
        if archive.engine.dialect.name == "sqlite":
            copy_sqlite(sqlite_path(url), plain)
            _encrypt(plain, folder, key, SQLITE_FILE, log)
            engine = read_only_sqlite(plain)
            try:
                with engine.connect() as connection:
                    yield contents(connection), connection
            finally:
                engine.dispose()
        else:
            with dump_postgresql(archive.engine, url, plain, pg_bin) as connection:
                copied = contents(connection)
                _encrypt(plain, folder, key, POSTGRESQL_FILE, log)
                yield copied, connection
    finally:
        plain.unlink(missing_ok=True)


def _encrypt(plain: Path, folder: Path, key: BackupKey, name: str, log: EntryLog) -> None:
    with open_file(plain) as source:
        log.add(write_encrypted(key, source, folder, name, synced=False))


#: How many PDFs are copied at once: reading, hashing and writing files wait on the disk and
#: release the GIL, so a few threads keep the disk and every core busy.
COPY_THREADS = 4


def _copy_pdfs(
    archive: Archive,
    copied: Connection,
    folder: Path,
    key: BackupKey,
    log: EntryLog,
    progress: Progress,
) -> bool:
    """Copy the PDFs the database copy names; False when one went away meanwhile (try again).
    They are copied a few at a time; the manifest lists them in order."""
    source = archive.blobs
    assert isinstance(source, FileBlobs)
    into = FileBlobs(folder / PDFS)
    into.root.mkdir(mode=0o700)
    for sha256 in (f"{n:02x}" for n in range(256)):
        (into.root / sha256).mkdir(mode=0o700)
    fsync_folder(into.root)

    def copy(sha256: str) -> dict[str, Any] | str | None:
        """The manifest entry of the PDF's copy; else None (missing) or the SHA-256 found."""
        name = into.path(sha256).relative_to(folder).as_posix()
        try:
            pdf = source.path(sha256).read_bytes()
        except FileNotFoundError:
            return None
        actual = hashlib.sha256(pdf).hexdigest()
        if actual != sha256:
            return actual
        return write_encrypted(key, io.BytesIO(pdf), folder, name, synced=False)

    with ThreadPoolExecutor(COPY_THREADS) as pool:
        for sha256, done in _in_order(pool, copy, archived_pdfs(copied)):
            if isinstance(done, dict):
                log.add(done)
                progress.advance()
                continue
            consent_id = _consent_naming(archive, sha256)
            if done is None:
                if consent_id is None:
                    return False
                problem = "is missing"
            else:
                problem = f"changed after it was stored (its SHA-256 is now {done})"
            name = into.path(sha256).relative_to(folder).as_posix()
            raise BackupError(
                f"the stored PDF {source.path(sha256)} (consent {consent_id}) {problem}: copy "
                f"{name} from an earlier backup in its place"
            )
    return True


def _in_order(
    pool: ThreadPoolExecutor, work: Callable[[str], Any], items: Iterator[str]
) -> Iterator[tuple[str, Any]]:
    """Each item with `work(item)`, in the items' order, at most a window of them at work at
    once (memory stays a window's PDFs)."""
    window: deque[tuple[str, Future[Any]]] = deque()
    for item in items:
        window.append((item, pool.submit(work, item)))
        if len(window) >= 4 * COPY_THREADS:
            done, future = window.popleft()
            yield done, future.result()
    while window:
        done, future = window.popleft()
        yield done, future.result()


def _copy_certificates(
    certificates_dir: Path, folder: Path, key: BackupKey, with_seal_key: bool, log: EntryLog
) -> None:
    """Every kept certificate; `current-seal.pem` (the self-signed key) only `with_seal_key`,
    else its certificate alone, under its fingerprint, if it is not kept yet."""
    (folder / CERTIFICATES).mkdir(mode=0o700)
    files: dict[str, bytes] = {}
    for path in sorted(certificates_dir.glob("*.pem")):
        with open_file(path) as file:
            data = file.read()
        if path.name != CURRENT_SEAL:
            files[path.name] = data
        elif with_seal_key:
            files[CURRENT_SEAL] = data
        else:
            certificate = ClinicCertificate.of(x509.load_pem_x509_certificate(data))
            files.setdefault(f"{certificate.sha256}.pem", certificate.pem)
    for name, data in sorted(files.items()):
        log.add(
            write_encrypted(key, io.BytesIO(data), folder, f"{CERTIFICATES}/{name}", synced=False)
        )


# --- restoring a backup --------------------------------------------------------------------------


@dataclass(frozen=True)
class RestoreReport:
    manifest: dict[str, Any]
    #: Where the restored archive differs from the manifest (empty: it matches).
    problems: list[str]


def restore_backup(
    archive: Archive,
    path: Path,
    actor: Actor,
    key: BackupKey,
    *,
    force: bool = False,
    pg_bin: Path | None = None,
    progress: Progress = NO_PROGRESS,
) -> RestoreReport:
    """Put the backup at `path` back as `archive`'s database, PDFs and certificates.

    Raises `BackupError`, having changed nothing, when the backup does not verify with `key`,
    was made for another kind of database or storage, or when the archive is not empty and
    `force` is not given (when pg_restore itself fails, the PostgreSQL database is left empty,
    and the error says so). Then checks the restored archive against the manifest: an audit
    trail or staff table that is not the one recorded empties the database again and raises;
    otherwise records "backup restored" if everything matches.
    """
    check = verify_backup(
        path, key, pg_bin=pg_bin, server_url=archive.settings.database_url,
        progress=_BothPasses(progress),
    )  # fmt: skip
    if not check.holds:
        raise BackupError(f"{path} does not verify: nothing was restored", *check.problems)
    manifest, entries = check.manifest, check.entries
    assert entries is not None
    settings = archive.settings
    kind = archive.engine.dialect.name
    if manifest["database"] != kind:
        raise BackupError(
            f"the backup holds a {manifest['database']} database and DATABASE_URL names "
            f"{kind}: restore it into the kind of database it was made from"
        )
    if manifest["storage"] != settings.storage:
        raise BackupError(
            f"the backup was made with STORAGE={manifest['storage']} and this archive has "
            f"STORAGE={settings.storage}: set STORAGE={manifest['storage']}"
        )
    if not _known_schema(manifest.get("schema")):
        raise BackupError(
            f"the backup's database is at schema {manifest.get('schema')}, which this version of "
            "the app does not know: restore it with the version that made it"
        )
    pg_restore = pg_tool("pg_restore", pg_bin) if kind == "postgresql" else ""
    held = _occupied(archive, path)
    if held and not force:
        raise BackupError(
            f"the archive is not empty ({', '.join(held)}): restoring would replace it; stop the "
            "app, back the archive up, and give --force to replace it"
        )
    # The PDFs and certificates first, the database last: until the database is in, the
    # archive holds no consent, and a restore cut short is run again (it skips each PDF
    # already in place).
    if settings.storage == "files":
        _restore_pdfs(path, entries, FileBlobs(settings.files_dir), key, progress)
    _restore_certificates(path, entries, settings.certificates_dir, key)
    for folder in (settings.files_dir, settings.certificates_dir):
        if folder.is_dir():
            sync_tree(folder)
    archive.dispose()
    with decrypted_file(key, path, DATABASE_FILES[kind]) as database:
        if kind == "sqlite":
            restore_sqlite(database, sqlite_path(settings.database_url))
        else:
            restore_postgresql(archive.engine, settings.database_url, database, pg_restore)
    with archive.engine.connect() as connection:
        refused = trust_problems(connection, manifest, key)
    if refused:
        empty_database(archive.engine)
        raise BackupError(
            "the restored database is not the one the backup recorded: it was emptied again",
            *refused,
        )
    upgrade(settings.database_url)
    with archive.engine.connect() as connection:
        stored_pdf = (
            _pdf_in_files(FileBlobs(settings.files_dir))
            if settings.storage == "files"
            else pdf_in_database(connection)
        )
        problems = compare(connection, manifest, stored_pdf)
    if not problems:
        # The manifest as it was authenticated, by its SHA-256 taken while it was read (the
        # file holds an entry a PDF: reading it whole again would grow with the backup).
        with archive.transaction() as session:
            audit.record(session, "backup restored", actor, entries.sha256)
    return RestoreReport(manifest, problems)


def _occupied(archive: Archive, backup: Path) -> list[str]:
    """What the archive already holds (empty list: nothing a restore would replace). While the
    database is empty, a PDF the backup holds too is not counted: restoring puts back the same
    bytes (a restore cut short left it)."""
    held: list[str] = []
    tables = set(inspect(archive.engine).get_table_names())
    with archive.engine.connect() as connection:
        for model, what in ((Consent, "consents"), (Staff, "staff accounts")):
            if model.__tablename__ in tables:
                count = connection.scalar(select(func.count()).select_from(model))
                if count:
                    held.append(f"{count} {what}")
        if AuditHead.__tablename__ in tables:
            rows = connection.scalar(select(AuditHead.seq).where(AuditHead.id == 1))
            if rows:
                held.append(f"{rows} audit trail rows")
    if archive.settings.storage == "files":
        # `FileBlobs.stored` would also clear temporary files: a check must change nothing.
        in_backup = backup_pdf(backup)
        count = sum(
            1
            for sha256, _ in FileBlobs(archive.settings.files_dir).files()
            if held or in_backup(sha256) is None
        )
        if count:
            held.append(f"{count} PDFs in {archive.settings.files_dir}")
    return held


class _BothPasses:
    """One bar over a restore's two passes over the backup's files: checking each, then
    putting each PDF back."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    def start(self, total: int) -> None:
        self.progress.start(2 * total)

    def advance(self, n: int = 1) -> None:
        self.progress.advance(n)


def _restore_pdfs(
    path: Path, entries: Entries, blobs: FileBlobs, key: BackupKey, progress: Progress
) -> None:
    make_folders(blobs.root)
    for entry in entries:
        sha256 = pdf_entry(entry["file"])
        if sha256 is not None:
            blobs.place_chunks(sha256, lambda name=entry["file"]: decrypted(key, path, name))
        progress.advance()


def _restore_certificates(
    path: Path, entries: Entries, certificates_dir: Path, key: BackupKey
) -> None:
    """Add the backup's certificates (each checked again as it goes in); a different
    self-signed one already here stays trusted."""
    make_folders(certificates_dir)
    for entry in entries:
        name = certificate_entry(entry["file"])
        if name is not None:
            data = b"".join(decrypted(key, path, entry["file"]))
            problem = certificate_problem(name, data)
            if problem:
                raise BackupError(f"{entry['file']}: {problem}")
            restore_certificate_file(certificates_dir, name, data)


def _pdf_in_files(blobs: FileBlobs) -> Callable[[str], str | None]:
    """The SHA-256 of a PDF stored as a file (None: not there)."""

    def stored_pdf(sha256: str) -> str | None:
        try:
            return file_digest(blobs.path(sha256))["sha256"]
        except FileNotFoundError:
            return None

    return stored_pdf


def _consent_naming(archive: Archive, sha256: str) -> str | None:
    """The id of a consent in the live archive whose PDF this is, or None."""
    with archive.sessions() as session:
        return session.scalar(select(Consent.id).where(Consent.pdf_sha256 == sha256).limit(1))


def _known_schema(revision: str | None) -> bool:
    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return revision is not None and revision in {s.revision for s in scripts.walk_revisions()}
