"""A backup's manifest.json written and read as a stream, so memory stays flat at any size.

The manifest is one JSON object: a few fields (when and from what the backup was made, counts,
the key's fingerprint) and `files`, an entry for every file of the backup, a PDF each. Making a
backup keeps the entries in an unnamed temporary file as each file is written (`EntryLog`), then
writes the manifest and its HMAC from there; checking one reads the fields first, then the
entries a few at a time (ijson), and authenticates them before any is trusted. The HMAC is over
the same canonical JSON as `BackupKey.mac` of the whole object, fed in pieces.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import ijson

from intake.archive.backup_key import BackupDamaged, BackupKey
from intake.archive.backup_layout import MANIFEST, open_file
from intake.archive.manifest import is_file_entry, manifest_json, top_level
from intake.canonical import canonical_json
from intake.safe_write import CHUNK, safe_file

#: The field that lists the files.
ENTRIES = "files"
#: The manifest's field that authenticates the rest of it.
MAC_FIELD = "hmac_sha256"


class EntryLog:
    """The manifest entries of the files written so far, one JSON line each in an unnamed
    temporary file (nothing of it stays on the disk after the process)."""

    def __init__(self) -> None:
        self.file = tempfile.TemporaryFile()
        self.count = 0

    def add(self, entry: dict[str, Any]) -> None:
        self.file.write(canonical_json(entry) + b"\n")
        self.count += 1

    def entries(self) -> Iterator[dict[str, Any]]:
        self.file.flush()
        self.file.seek(0)
        for line in self.file:
            yield json.loads(line)

    def close(self) -> None:
        self.file.close()


def _split(head: dict[str, Any], dump: Any, **last: Any) -> tuple[bytes, bytes]:
    """`dump` of `head`, the entries, then `last`, with the entries left out: the bytes before
    and after their list."""
    token = secrets.token_hex(16)
    text = dump({**head, ENTRIES: token, **last})
    before, after = text.split(canonical_json(token), 1)
    return before, after


def canonical_chunks(head: dict[str, Any], entries: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    """`canonical_json({**head, "files": list(entries)})`, a piece at a time."""
    before, after = _split(head, canonical_json)
    yield before + b"["
    for n, entry in enumerate(entries):
        yield (b"," if n else b"") + canonical_json(entry)
    yield b"]" + after


def mac_of(key: BackupKey, chunks: Iterable[bytes]) -> str:
    """`BackupKey.mac` of the document the chunks spell."""
    mac = hmac.new(key.manifest, digestmod=hashlib.sha256)
    for chunk in chunks:
        mac.update(chunk)
    return mac.hexdigest()


def write_manifest(folder: Path, head: dict[str, Any], log: EntryLog, key: BackupKey) -> str:
    """Write manifest.json (indented, entries one a line) with its HMAC as its last field;
    the SHA-256 of what was written."""
    mac = mac_of(key, canonical_chunks(head, log.entries()))
    before, after = _split(head, manifest_json, **{MAC_FIELD: mac})
    sha256 = hashlib.sha256()
    with safe_file(folder / MANIFEST) as file:

        def put(data: bytes) -> None:
            sha256.update(data)
            file.write(data)

        put(before + b"[")
        for n, entry in enumerate(log.entries()):
            line = json.dumps(entry, ensure_ascii=False).encode("utf-8")
            put((b"," if n else b"") + b"\n    " + line)
        put((b"\n  ]" if log.count else b"]") + after)
    return sha256.hexdigest()


class _Hashing:
    """A reader that keeps the SHA-256 of what was read through it."""

    def __init__(self, file: IO[bytes]) -> None:
        self.file, self.sha256 = file, hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.file.read(size)
        self.sha256.update(data)
        return data

    def rest(self) -> str:
        while self.read(CHUNK):
            pass
        return self.sha256.hexdigest()


def read_head(path: Path) -> tuple[dict[str, Any], str, str]:
    """Every top-level field but the entries; the JSON type of `files` ("array" for a backup's
    manifest); the SHA-256 of the file.

    Raises `ManifestUnreadable` when it is not JSON, `OSError` when it cannot be read."""
    with open_file(path / MANIFEST) as raw:
        file = _Hashing(raw)
        head, files_type = top_level(file, ENTRIES)
        return head, files_type, file.rest()


@dataclass
class Entries:
    """The manifest's entries, read again from the file each time they are walked; a walk that
    finds the file changed since it was authenticated raises `BackupDamaged` at its end."""

    folder: Path
    #: The SHA-256 of the manifest as it was authenticated.
    sha256: str
    count: int = 0
    #: Whether the names are in order, each after the one before (so none is listed twice).
    in_order: bool = True

    def __iter__(self) -> Iterator[dict[str, Any]]:
        with open_file(self.folder / MANIFEST) as raw:
            file = _Hashing(raw)
            try:
                yield from ijson.items(file, f"{ENTRIES}.item", use_float=True)
            except (ijson.JSONError, UnicodeDecodeError) as exc:
                raise BackupDamaged(f"{MANIFEST} changed while it was read: {exc}") from None
            if file.rest() != self.sha256:
                raise BackupDamaged(f"{MANIFEST} changed while it was read")


def authenticate(entries: Entries, head: dict[str, Any], mac: str, key: BackupKey) -> bool | None:
    """Walk the entries once: count them, see whether they are in order, and check `mac`
    against the head and them. None when an entry is not a file entry."""
    well_formed = True
    last: list[str] | None = None

    def checked() -> Iterator[dict[str, Any]]:
        nonlocal well_formed, last
        for entry in entries:
            if not is_file_entry(entry):
                well_formed = False
                continue
            parts = entry["file"].split("/")
            if last is not None and parts <= last:
                entries.in_order = False
            last = parts
            entries.count += 1
            yield entry

    found = mac_of(key, canonical_chunks(head, checked()))
    if not well_formed:
        return None
    return hmac.compare_digest(found, mac)
