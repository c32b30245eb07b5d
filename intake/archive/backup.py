"""Back up the whole archive to a folder, check such a folder, and restore one.

A backup is a folder, owner-only (it holds health data):

- `archive.sqlite3`: a copy of the SQLite database made with SQLite's online backup, so the app
  may keep running; or `archive.pgdump`: `pg_dump -Fc` of the PostgreSQL database;
- `pdfs/ab/<sha256>.pdf`: with `STORAGE=files`, the sealed PDF of every consent in that copy of
  the database (with `STORAGE=database` the PDFs are inside the database);
- `certificates/`: every certificate the clinic has sealed with, and the self-signed one's key;
- `manifest.json`: when and from what it was made, the consents by state, the audit trail's
  length and newest hash, and the SHA-256 and size of every other file.

The database is copied first, at one moment (PostgreSQL: pg_dump runs in a snapshot that the
list of PDFs to copy is read from too); then the PDFs its rows name are copied. A PDF is stored
before the row that names it commits (see `blobs.py`), so every row in the copy finds its file,
however many consents the app commits meanwhile. The folder is written under a temporary name
beside its destination, fsynced, then renamed into place.

Restoring checks the whole backup first, refuses an archive that already holds consents, staff,
audit rows or PDFs unless forced, then puts the database, PDFs and certificates back and checks
the result against the manifest before it records "backup restored".
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic.script import ScriptDirectory
from sqlalchemy import Connection, func, inspect, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from intake.archive import audit
from intake.archive.audit import Actor
from intake.archive.blobs import BlobMissing, FileBlobs
from intake.archive.database_copy import (
    BackupError,
    copy_sqlite,
    dump_postgresql,
    last_lines,
    pg_tool,
    read_only_sqlite,
    restore_postgresql,
    restore_sqlite,
    sqlite_path,
)
from intake.archive.manifest import entry_problems, file_digest, is_file_entry, manifest_json
from intake.archive.migrate import alembic_config, upgrade
from intake.archive.models import (
    ARCHIVED,
    DELETED,
    PENDING,
    AuditHead,
    Consent,
    PdfBlob,
    Staff,
)
from intake.archive.service import Archive
from intake.certificates import certificate_files, is_certificate_file, restore_certificate_file
from intake.safe_write import copy_file, fsync_folder, make_folders, write_file

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_FILE = "archive.sqlite3"
POSTGRESQL_FILE = "archive.pgdump"
PDFS = "pdfs"
CERTIFICATES = "certificates"
DATABASE_FILES = {"sqlite": SQLITE_FILE, "postgresql": POSTGRESQL_FILE}
STATES = (ARCHIVED, PENDING, DELETED)
#: A backup made into an existing folder is named by the time it was made.
FOLDER_NAME = "intake-backup-{:%Y%m%dT%H%M%SZ}"
#: A consent deleted (retention) between the database copy and its PDF's copy takes its PDF
#: with it; the backup then starts again from a new copy, this many times at most.
ATTEMPTS = 3


@dataclass(frozen=True)
class Contents:
    """What a copy of the archive database holds, as the manifest records it."""

    schema: str | None
    #: Consents by state: archived, pending, deleted.
    consents: dict[str, int]
    audit_rows: int
    audit_head: str
    #: The SHA-256 of every archived consent's PDF.
    pdfs: list[str]

    def manifest_fields(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "consents": self.consents,
            "audit": {"rows": self.audit_rows, "head_sha256": self.audit_head},
        }


@dataclass(frozen=True)
class BackupReport:
    path: Path
    manifest: dict[str, Any]
    #: SHA-256 of manifest.json: what the audit event names.
    manifest_sha256: str


@dataclass
class BackupCheck:
    """What checking a backup found: its manifest, every problem, and notes on what was not."""

    manifest: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def holds(self) -> bool:
        return not self.problems


def summary(manifest: dict[str, Any]) -> str:
    """The consents and audit rows a manifest records, in one phrase."""
    counts = manifest["consents"]
    states = ", ".join(f"{counts.get(state, 0)} {state}" for state in STATES)
    return f"consents {states}; audit trail {manifest['audit']['rows']} rows"


# --- making a backup -----------------------------------------------------------------------------


def make_backup(
    archive: Archive, out: Path, actor: Actor, *, pg_bin: Path | None = None
) -> BackupReport:
    """Back up `archive` to the new folder `out` (or a new, dated folder inside `out`).

    Raises `BackupError` (and leaves nothing at the destination) when it cannot; records the
    audit event "backup made" once the folder is in place.
    """
    made_at = datetime.now(UTC).replace(microsecond=0)
    destination = out / FOLDER_NAME.format(made_at) if out.is_dir() else out
    if destination.exists():
        raise BackupError(f"{destination}: already exists: give a new folder")
    if not destination.parent.is_dir():
        raise BackupError(f"{destination}: cannot write: no folder {destination.parent}")
    for _ in range(ATTEMPTS):
        tmp = Path(
            tempfile.mkdtemp(dir=destination.parent, prefix=f".{destination.name}.", suffix=".tmp")
        )
        try:
            contents = _copy_database(archive, tmp, pg_bin)
            if archive.settings.storage == "files" and not _copy_pdfs(archive, contents, tmp):
                continue
            _copy_certificates(archive.settings.certificates_dir, tmp / CERTIFICATES)
            manifest = {
                "format": FORMAT,
                "made_at": made_at.isoformat(),
                "database": archive.engine.dialect.name,
                "storage": archive.settings.storage,
                **contents.manifest_fields(),
                "files": _list_files(tmp),
            }
            data = manifest_json(manifest)
            write_file(tmp / MANIFEST, data)
            for folder in sorted((p for p in tmp.rglob("*") if p.is_dir()), reverse=True):
                fsync_folder(folder)
            manifest_sha256 = hashlib.sha256(data).hexdigest()
            with archive.transaction() as session:
                audit.record(session, "backup made", actor, manifest_sha256)
                # Renamed inside the transaction: a failed rename rolls the audit event back.
                os.rename(tmp, destination)
            fsync_folder(destination.parent)
            return BackupReport(destination, manifest, manifest_sha256)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    raise BackupError(
        f"consents were deleted while each of {ATTEMPTS} backups was being made: run it again"
    )


def _copy_database(archive: Archive, folder: Path, pg_bin: Path | None) -> Contents:
    """Copy the database into `folder`; what the copy holds."""
    url = archive.settings.database_url
    if archive.engine.dialect.name == "sqlite":
        target = folder / SQLITE_FILE
        copy_sqlite(sqlite_path(url), target)
        engine = read_only_sqlite(target)
        try:
            with engine.connect() as connection:
                return _contents(connection)
        finally:
            engine.dispose()
    with dump_postgresql(archive.engine, url, folder / POSTGRESQL_FILE, pg_bin) as connection:
        return _contents(connection)


def _copy_pdfs(archive: Archive, contents: Contents, folder: Path) -> bool:
    """Copy the PDFs the database copy names; False when one went away meanwhile (try again)."""
    source = archive.blobs
    assert isinstance(source, FileBlobs)
    into = FileBlobs(folder / PDFS)
    into.root.mkdir(mode=0o700)
    with archive.sessions() as session:
        for sha256 in contents.pdfs:
            try:
                pdf = source.get(session, sha256)
            except BlobMissing:
                consent_id = _consent_naming(archive, sha256)
                if consent_id is None:
                    return False
                problem = "is missing"
            else:
                actual = hashlib.sha256(pdf).hexdigest()
                if actual == sha256:
                    into.put(session, pdf)
                    continue
                consent_id = _consent_naming(archive, sha256)
                problem = f"changed after it was stored (its SHA-256 is now {actual})"
            raise BackupError(
                f"the stored PDF {source.path(sha256)} (consent {consent_id}) {problem}: copy "
                f"{into.path(sha256).relative_to(folder)} from an earlier backup in its place"
            )
    return True


def _copy_certificates(certificates_dir: Path, folder: Path) -> None:
    folder.mkdir(mode=0o700)
    for path in certificate_files(certificates_dir):
        copy_file(path, folder / path.name)


def _list_files(folder: Path) -> list[dict[str, Any]]:
    return [
        {"file": path.relative_to(folder).as_posix(), **file_digest(path)}
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != MANIFEST
    ]


# --- checking a backup ---------------------------------------------------------------------------


def verify_backup(path: Path, *, pg_bin: Path | None = None) -> BackupCheck:
    """Check every file against the manifest, then what the database copy holds against it.

    A SQLite copy is opened read-only: its consent counts, audit chain and newest hash must be
    the manifest's, and every archived consent's PDF must be in the backup with its SHA-256. A
    PostgreSQL dump is read back with `pg_restore --list` when pg_restore is found.
    """
    check = BackupCheck()
    manifest = _read_manifest(path, check)
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
        for name in sorted(p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file())
        if name not in listed and name != MANIFEST
    )
    database_file = DATABASE_FILES[manifest["database"]]
    if database_file not in listed:
        check.problems.append(f"{database_file}: not in the manifest")
    if not check.holds:
        return check
    if manifest["database"] == "sqlite":
        pdfs = {sha256 for name in listed if (sha256 := _pdf_entry(name))}
        engine = read_only_sqlite(path / SQLITE_FILE)
        try:
            with engine.connect() as connection:
                # The files' SHA-256 were checked above; only whether each is there remains.
                stored_pdf = (
                    (lambda sha: sha if sha in pdfs else None)
                    if manifest["storage"] == "files"
                    else _pdf_in_database(connection)
                )
                check.problems.extend(_compare(connection, manifest, stored_pdf))
        except DBAPIError as exc:
            check.problems.append(
                f"{SQLITE_FILE}: not an archive database SQLite can read: {exc.orig}"
            )
        finally:
            engine.dispose()
        return check
    try:
        pg_restore = pg_tool("pg_restore", pg_bin)
    except BackupError as exc:
        check.notes.append(f"{exc}: the dump was checked by its SHA-256 only")
        return check
    listing = subprocess.run(
        [pg_restore, "--list", str(path / POSTGRESQL_FILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    if listing.returncode != 0:
        check.problems.append(
            f"{POSTGRESQL_FILE}: pg_restore cannot read it: {last_lines(listing)}"
        )
    return check


def _read_manifest(path: Path, check: BackupCheck) -> dict[str, Any] | None:
    """The manifest, or None (with the problem noted) when it is missing or not one we wrote."""
    try:
        manifest = json.loads((path / MANIFEST).read_bytes())
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
    return manifest


def _entry_problem(
    folder: Path, name: str, entry: dict[str, Any], manifest: dict[str, Any]
) -> str | None:
    """What is wrong with one file the manifest lists, or None."""
    pdf = _pdf_entry(name)
    expected = (
        name == DATABASE_FILES[manifest["database"]]
        or (pdf is not None and manifest["storage"] == "files")
        or _certificate_entry(name) is not None
    )
    if not expected:
        return "not a file a backup holds"
    if pdf is not None and pdf != entry["sha256"]:
        return f"named for the SHA-256 {pdf}, the manifest records {entry['sha256']}"
    try:
        found = file_digest(folder / name)
    except FileNotFoundError:
        return "missing from the backup"
    problems = entry_problems(entry, found)
    return problems[0] if problems else None


def _compare(
    connection: Connection, manifest: dict[str, Any], stored_pdf: Callable[[str], str | None]
) -> list[str]:
    """Where a database (a backup's copy, or one just restored) differs from the manifest.

    `stored_pdf(sha256)` gives the SHA-256 of the PDF stored under that name, None if missing.
    """
    problems = []
    contents = _contents(connection)
    for state in STATES:
        expected = manifest["consents"].get(state, 0)
        if contents.consents[state] != expected:
            problems.append(
                f"the database holds {contents.consents[state]} {state} consents, the manifest "
                f"says {expected}"
            )
    with Session(bind=connection) as session:
        chain = audit.verify(session)
    if not chain.holds:
        problems.append(f"the audit trail is broken at row {chain.broken_seq}: {chain.reason}")
    recorded = (manifest["audit"].get("rows"), manifest["audit"].get("head_sha256"))
    if (contents.audit_rows, contents.audit_head) != recorded:
        problems.append(
            f"the audit trail ends at row {contents.audit_rows} ({contents.audit_head}), the "
            f"manifest says row {recorded[0]} ({recorded[1]})"
        )
    for sha256 in contents.pdfs:
        found = stored_pdf(sha256)
        if found is None:
            problems.append(f"the PDF {sha256} of an archived consent is missing")
        elif found != sha256:
            problems.append(f"the PDF {sha256} of an archived consent has the SHA-256 {found}")
    return problems


# --- restoring a backup --------------------------------------------------------------------------


@dataclass(frozen=True)
class RestoreReport:
    manifest: dict[str, Any]
    #: Where the restored archive differs from the manifest (empty: it matches).
    problems: list[str]


def restore_backup(
    archive: Archive, path: Path, actor: Actor, *, force: bool = False, pg_bin: Path | None = None
) -> RestoreReport:
    """Put the backup at `path` back as `archive`'s database, PDFs and certificates.

    Raises `BackupError`, having changed nothing, when the backup does not verify, was made for
    another kind of database or storage, or when the archive is not empty and `force` is not
    given (when pg_restore itself fails, the PostgreSQL database is left empty, and the error
    says so). Then checks the restored archive against the manifest, and records "backup
    restored" if it matches.
    """
    check = verify_backup(path, pg_bin=pg_bin)
    if not check.holds:
        raise BackupError(f"{path} does not verify: nothing was restored", *check.problems)
    manifest = check.manifest
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
    held = _occupied(archive)
    if held and not force:
        raise BackupError(
            f"the archive is not empty ({', '.join(held)}): restoring would replace it; stop the "
            "app, back the archive up, and give --force to replace it"
        )
    archive.dispose()
    if kind == "sqlite":
        restore_sqlite(path / SQLITE_FILE, sqlite_path(settings.database_url))
    else:
        restore_postgresql(
            archive.engine, settings.database_url, path / POSTGRESQL_FILE, pg_restore
        )
    if settings.storage == "files":
        _restore_pdfs(path, manifest, FileBlobs(settings.files_dir))
    _restore_certificates(path / CERTIFICATES, manifest, settings.certificates_dir)
    upgrade(settings.database_url)
    with archive.engine.connect() as connection:
        stored_pdf = (
            _pdf_in_files(FileBlobs(settings.files_dir))
            if settings.storage == "files"
            else _pdf_in_database(connection)
        )
        problems = _compare(connection, manifest, stored_pdf)
    if not problems:
        manifest_sha256 = hashlib.sha256((path / MANIFEST).read_bytes()).hexdigest()
        with archive.transaction() as session:
            audit.record(session, "backup restored", actor, manifest_sha256)
    return RestoreReport(manifest, problems)


def _occupied(archive: Archive) -> list[str]:
    """What the archive already holds (empty list: nothing a restore would replace)."""
    held = []
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
        count = sum(1 for _ in FileBlobs(archive.settings.files_dir).files())
        if count:
            held.append(f"{count} PDFs in {archive.settings.files_dir}")
    return held


def _restore_pdfs(path: Path, manifest: dict[str, Any], blobs: FileBlobs) -> None:
    make_folders(blobs.root)
    for entry in manifest["files"]:
        sha256 = _pdf_entry(entry["file"])
        if sha256 is not None:
            blobs.place(sha256, path / entry["file"])


def _restore_certificates(folder: Path, manifest: dict[str, Any], certificates_dir: Path) -> None:
    """Add the backup's certificates; a different self-signed one already here stays trusted."""
    make_folders(certificates_dir)
    for entry in manifest["files"]:
        name = _certificate_entry(entry["file"])
        if name is not None:
            restore_certificate_file(certificates_dir, name, (folder / name).read_bytes())


def _pdf_in_database(connection: Connection) -> Callable[[str], str | None]:
    """The SHA-256 of a PDF stored in the database (None: not there)."""

    def stored_pdf(sha256: str) -> str | None:
        data = connection.scalar(select(PdfBlob.data).where(PdfBlob.sha256 == sha256))
        return None if data is None else hashlib.sha256(data).hexdigest()

    return stored_pdf


def _pdf_in_files(blobs: FileBlobs) -> Callable[[str], str | None]:
    """The SHA-256 of a PDF stored as a file (None: not there)."""

    def stored_pdf(sha256: str) -> str | None:
        try:
            return file_digest(blobs.path(sha256))["sha256"]
        except FileNotFoundError:
            return None

    return stored_pdf


# --- shared --------------------------------------------------------------------------------------


def _pdf_entry(name: str) -> str | None:
    """The SHA-256 of the PDF a backup's file name holds (`pdfs/` and the store's own name)."""
    prefix = f"{PDFS}/"
    return FileBlobs.sha256_named(name.removeprefix(prefix)) if name.startswith(prefix) else None


def _certificate_entry(name: str) -> str | None:
    """The certificates folder's file a backup's file name holds, or None."""
    folder, _, file = name.partition("/")
    return file if folder == CERTIFICATES and is_certificate_file(file) else None


def _contents(connection: Connection) -> Contents:
    counts = dict(
        connection.execute(select(Consent.status, func.count()).group_by(Consent.status)).all()
    )
    head = connection.execute(select(AuditHead.seq, AuditHead.sha256).where(AuditHead.id == 1))
    rows, head_sha256 = head.one()
    schema = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    pdfs = connection.scalars(
        select(Consent.pdf_sha256)
        .where(Consent.status == ARCHIVED, Consent.pdf_sha256.is_not(None))
        .distinct()
        .order_by(Consent.pdf_sha256)
    )
    return Contents(
        schema=schema,
        consents={state: counts.get(state, 0) for state in STATES},
        audit_rows=rows,
        audit_head=head_sha256,
        pdfs=list(pdfs),
    )


def _consent_naming(archive: Archive, sha256: str) -> str | None:
    """The id of a consent in the live archive whose PDF this is, or None."""
    with archive.sessions() as session:
        return session.scalar(select(Consent.id).where(Consent.pdf_sha256 == sha256).limit(1))


def _known_schema(revision: str | None) -> bool:
    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return revision is not None and revision in {s.revision for s in scripts.walk_revisions()}
