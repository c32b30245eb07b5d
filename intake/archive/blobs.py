"""Where sealed PDF bytes live: files named by their SHA-256, or rows in the database.

`FileBlobs` keeps `<root>/ab/<sha256>.pdf`: written to a temporary file in the same folder,
fsynced, renamed into place, and the folder fsynced, all before the row that names the file is
committed. A crash at any point leaves either no file, or a whole file that no row names yet,
which `Archive.repair` removes. `DatabaseBlobs` (`STORAGE=database`) keeps the bytes in the
`pdf_blobs` table, written in the same transaction as the row, so several app servers can share
one PostgreSQL.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Protocol

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from intake.archive.manifest import file_digest
from intake.archive.models import PdfBlob
from intake.safe_write import copy_file, fsync_folder, make_folders, write_file

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
#: A stored PDF's name under the root: its SHA-256's first two digits, then the SHA-256.
_FILE_NAME = re.compile(r"([0-9a-f]{2})/(\1[0-9a-f]{62})\.pdf")


class BlobMissing(KeyError):
    """No stored PDF has this SHA-256."""


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Blobs(Protocol):
    def put(self, session: Session, data: bytes) -> str:
        """Keep `data` (durably, before `session` commits); return its SHA-256."""
        ...

    def get(self, session: Session, sha256: str) -> bytes: ...

    def discard(self, session: Session, sha256: str) -> None:
        """Remove one stored PDF (the caller made sure no row names it)."""
        ...

    def stored(self, session: Session, older_than: float = 0) -> Iterator[str]:
        """The SHA-256 of every stored PDF (files: last written more than `older_than` s ago)."""
        ...


class FileBlobs:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        if not _SHA256.match(sha256):
            raise BlobMissing(sha256)
        return self.root / self.name(sha256)

    @staticmethod
    def name(sha256: str) -> str:
        """Where the PDF with this SHA-256 is kept, relative to the root ("ab/ab….pdf")."""
        return f"{sha256[:2]}/{sha256}.pdf"

    @staticmethod
    def sha256_named(name: str) -> str | None:
        """The SHA-256 a relative name (`name`) stands for, or None when it names no PDF."""
        match = _FILE_NAME.fullmatch(name)
        return match.group(2) if match else None

    def put(self, session: Session, data: bytes) -> str:
        """Store `data` durably; an `OSError` (a full or read-only disk) stores nothing."""
        sha256 = sha256_of(data)
        path = self.path(sha256)
        make_folders(path.parent)
        write_file(path, data, replace=False)
        return sha256

    def get(self, session: Session, sha256: str) -> bytes:
        try:
            return self.path(sha256).read_bytes()
        except FileNotFoundError:
            raise BlobMissing(sha256) from None

    def discard(self, session: Session, sha256: str) -> None:
        path = self.path(sha256)
        path.unlink(missing_ok=True)
        fsync_folder(path.parent)

    def stored(self, session: Session, older_than: float = 0) -> Iterator[str]:
        # With no grace, every file counts, however close its time stamp is to now.
        cutoff = time.time() - older_than if older_than > 0 else float("inf")
        for entry in self._entries():
            name = entry.name
            if name.startswith(".") and name.endswith(".tmp"):
                # A temporary file a crash left behind: never named by any row.
                if entry.stat().st_mtime < cutoff:
                    try:
                        Path(entry.path).unlink(missing_ok=True)
                    except OSError:
                        pass  # a read-only disk: removed by a later repair
                continue
            sha256 = name.removesuffix(".pdf")
            if _SHA256.match(sha256) and entry.stat().st_mtime < cutoff:
                yield sha256

    def files(self) -> Iterator[tuple[str, Path]]:
        """The SHA-256 and path of every stored PDF file; unlike `stored`, changes nothing."""
        for entry in self._entries():
            sha256 = self.sha256_named(f"{Path(entry.path).parent.name}/{entry.name}")
            if sha256 is not None:
                yield sha256, Path(entry.path)

    def place(self, sha256: str, source: Path) -> None:
        """Put back the PDF with this SHA-256 from the file `source` (a backup's copy), unless
        the store already holds it whole; the caller checked `source`'s SHA-256."""
        target = self.path(sha256)
        if target.exists() and file_digest(target)["sha256"] == sha256:
            return
        make_folders(target.parent)
        copy_file(source, target)

    def place_chunks(self, sha256: str, chunks: Callable[[], Iterable[bytes]]) -> bool:
        """Put back the PDF with this SHA-256 from `chunks()` (a backup's decrypted copy),
        unless the store already holds it whole; whether it was written.

        Written under a temporary name and renamed, with no fsync of its own: a restore puts
        many back, then syncs the store once (`safe_write.sync_tree`) before the database that
        names them goes in. A copy that is not this SHA-256 is not put in place."""
        target = self.path(sha256)
        if target.exists() and file_digest(target)["sha256"] == sha256:
            return False
        make_folders(target.parent)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            digest = hashlib.sha256()
            with os.fdopen(fd, "wb") as file:
                for chunk in chunks():
                    digest.update(chunk)
                    file.write(chunk)
            if digest.hexdigest() != sha256:
                raise BlobMissing(sha256)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return True

    def _entries(self) -> Iterator[os.DirEntry[str]]:
        """Every entry of the two-digit folders under the root: PDFs and temporary files."""
        if not self.root.is_dir():
            return
        for folder in sorted(self.root.iterdir()):
            if not folder.is_dir() or len(folder.name) != 2:
                continue
            with os.scandir(folder) as entries:
                yield from entries


class DatabaseBlobs:
    def put(self, session: Session, data: bytes) -> str:
        sha256 = sha256_of(data)
        if session.get(PdfBlob, sha256) is None:
            session.add(PdfBlob(sha256=sha256, data=data))
        return sha256

    def get(self, session: Session, sha256: str) -> bytes:
        blob = session.get(PdfBlob, sha256)
        if blob is None:
            raise BlobMissing(sha256)
        return blob.data

    def discard(self, session: Session, sha256: str) -> None:
        session.execute(delete(PdfBlob).where(PdfBlob.sha256 == sha256))

    def stored(self, session: Session, older_than: float = 0) -> Iterator[str]:
        # Rows are written in the transaction that names them: none is ever in flight.
        yield from session.scalars(select(PdfBlob.sha256))
