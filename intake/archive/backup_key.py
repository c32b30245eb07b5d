"""The backup key: the secret the clinic keeps apart from its backups, and what it does.

One random 256-bit key in a file (`BACKUP_KEY_FILE`, made by `intake backup key`). HKDF-SHA256
derives from it one key to encrypt files, one to authenticate the manifest (HMAC-SHA256), and a
fingerprint that names the key without revealing it.

A file is encrypted as a stream of AES-256-GCM chunks (the STREAM construction of age and Tink):
a random salt in the file's header derives a key of its own for the file, each chunk's nonce is
its counter and a flag marking the last chunk, and the file's path in the backup is the
associated data. So a chunk cannot be changed, dropped, reordered or cut off at its end, and a
file cannot pass for another, without the decryption failing; memory stays one chunk whatever
the file's size. All of it is the `cryptography` library's; nothing here is hand-made crypto.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from intake.archive.database_copy import BackupError
from intake.canonical import canonical_json
from intake.safe_write import CHUNK, fsync_folder

KEY_BYTES = 32
SALT_BYTES = 16
TAG_BYTES = 16
#: What every encrypted file of a backup starts with (then its salt).
MAGIC = b"intake-backup-1\n"
HEADER_BYTES = len(MAGIC) + SALT_BYTES
#: What the key file says above the key itself.
KEY_FILE_NOTE = (
    "# intake backup key: keep it apart from the backups (without it no backup can be read\n"
    "# or restored, and whoever holds it and a backup can read the backup)\n"
)
SETTING = "BACKUP_KEY_FILE"


class BackupDamaged(BackupError):
    """An encrypted file that does not decrypt with the key: changed, cut, or not ours."""


@dataclass(frozen=True)
class BackupKey:
    """The key material derived from one backup key file."""

    files: bytes
    manifest: bytes
    #: Names the key (in the manifest, on the terminal): SHA-256 hex of a key derived for it.
    fingerprint: str

    @classmethod
    def of(cls, secret: bytes) -> BackupKey:
        return cls(
            files=_derive(secret, b"intake backup files"),
            manifest=_derive(secret, b"intake backup manifest"),
            fingerprint=_derive(secret, b"intake backup fingerprint").hex(),
        )

    # --- the manifest -------------------------------------------------------------------------

    def mac(self, data: object) -> str:
        """HMAC-SHA256 of the canonical JSON of `data`, hex."""
        return hmac.new(self.manifest, canonical_json(data), hashlib.sha256).hexdigest()

    def mac_matches(self, data: object, mac: str) -> bool:
        return hmac.compare_digest(self.mac(data), mac)

    # --- files ----------------------------------------------------------------------------------

    def encrypt(self, source: IO[bytes], target: IO[bytes], name: str) -> None:
        """Write `source` encrypted to `target`, for the backup's file `name`."""
        salt = os.urandom(SALT_BYTES)
        cipher = self._cipher(salt, name)
        target.write(MAGIC + salt)
        counter = 0
        chunk = source.read(CHUNK)
        while True:
            following = source.read(CHUNK)
            last = not following
            target.write(cipher.encrypt(_nonce(counter, last), chunk, name.encode()))
            if last:
                return
            chunk, counter = following, counter + 1

    def decrypt(self, source: IO[bytes], name: str) -> Iterator[bytes]:
        """The plaintext of the backup's file `name`, a chunk at a time. Raises `BackupDamaged`
        (possibly after some chunks) when any part does not decrypt."""
        header = source.read(HEADER_BYTES)
        if len(header) != HEADER_BYTES or not header.startswith(MAGIC):
            raise BackupDamaged("not a file encrypted by intake backup")
        cipher = self._cipher(header[len(MAGIC) :], name)
        counter = 0
        chunk = source.read(CHUNK + TAG_BYTES)
        while True:
            following = source.read(CHUNK + TAG_BYTES)
            last = not following
            try:
                yield cipher.decrypt(_nonce(counter, last), chunk, name.encode())
            except InvalidTag:
                raise BackupDamaged(
                    "does not decrypt with the backup key: changed, cut short, moved from "
                    "another name, or made with another key"
                ) from None
            if last:
                return
            chunk, counter = following, counter + 1

    def _cipher(self, salt: bytes, name: str) -> AESGCM:
        return AESGCM(_derive(self.files, b"intake backup file " + name.encode(), salt=salt))


def _derive(secret: bytes, info: bytes, *, salt: bytes | None = None) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=salt, info=info).derive(secret)


def _nonce(counter: int, last: bool) -> bytes:
    return counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


# --- the key file --------------------------------------------------------------------------------


def make_key_file(path: Path) -> BackupKey:
    """Write a new random key to `path`, which must not exist; owner-only from its creation."""
    if not path.parent.is_dir():
        raise BackupError(f"{path}: cannot write: no folder {path.parent}")
    secret = os.urandom(KEY_BYTES)
    text = KEY_FILE_NOTE + base64.urlsafe_b64encode(secret).decode() + "\n"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        raise BackupError(f"{path}: already exists: a key is never overwritten") from None
    except OSError as exc:
        raise BackupError(f"{path}: cannot write: {exc.strerror or exc}") from None
    try:
        os.fchmod(fd, 0o600)  # whatever the umask took away; it never had more
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync_folder(path.parent)
    return BackupKey.of(secret)


def read_key_file(path: Path | None) -> BackupKey:
    """The key in `path` (the `BACKUP_KEY_FILE` setting); `BackupError` naming the setting when
    it is not set, missing, readable by others, or not a key file."""
    if path is None:
        raise BackupError(
            f"{SETTING} is not set: give the path of the backup key (make one with "
            "`intake backup key --out FILE` and keep it apart from the backups)"
        )
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        raise BackupError(f"{SETTING}: {path}: cannot read: {exc.strerror or exc}") from None
    try:
        if stat.S_IMODE(os.fstat(fd).st_mode) & 0o077:
            raise BackupError(
                f"{SETTING}: {path} can be read by other users: make it owner-only (chmod 600)"
            )
        with os.fdopen(os.dup(fd), "rb") as file:
            data = file.read(4096)
    finally:
        os.close(fd)
    lines = [
        line.strip()
        for line in data.decode("utf-8", "replace").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    try:
        (line,) = lines
        secret = base64.urlsafe_b64decode(line.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        secret = b""
    if len(secret) != KEY_BYTES:
        raise BackupError(f"{SETTING}: {path} is not a backup key made by `intake backup key`")
    return BackupKey.of(secret)
