"""The instance's private files stay owner-only, however the folder was made.

New files and folders are created owner-only with the mode given to `open`/`mkdir` (see
`intake.safe_write`, `intake.archive.db`), never loosened by the umask and never chmod'ed after.
A folder or file made before that (an older install, a copy made by hand) may be open to every
account on the server: at start, each known place is tightened to owner-only, with a log line
naming it; one that cannot be (owned by another account, a read-only disk) stops the start with
a message saying which and why.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterable
from pathlib import Path

from intake.archive.connect import sqlite_file
from intake.certificates import CURRENT_SEAL
from intake.config import Config

log = logging.getLogger(__name__)

#: Bits that let an account other than the owner read, write or enter.
OTHERS = stat.S_IRWXG | stat.S_IRWXO
FOLDER_MODE = 0o700
FILE_MODE = 0o600
#: The app's session-signing secret, made on first start in the instance folder.
SECRET_KEY_FILE = "secret_key"


class PrivateFilesError(Exception):
    """A private folder or file is open to other accounts and cannot be made owner-only."""


def tighten(folders: Iterable[Path], files: Iterable[Path]) -> list[str]:
    """Make each existing folder 0700 and each existing file 0600 when other accounts may use
    it; what was changed, one line each (also logged). Missing paths are skipped: they are
    made owner-only when first written."""
    changed = []
    for path, mode in [*((f, FOLDER_MODE) for f in folders), *((f, FILE_MODE) for f in files)]:
        try:
            found = os.stat(path, follow_symlinks=False)
        except FileNotFoundError:
            continue
        if stat.S_ISLNK(found.st_mode) or not found.st_mode & OTHERS:
            continue
        try:
            os.chmod(path, mode)
        except OSError as exc:
            raise PrivateFilesError(
                f"{path} is open to other accounts (mode {stat.S_IMODE(found.st_mode):04o}) and "
                f"cannot be made owner-only: {exc.strerror or exc}; run the app as the account "
                f"that owns it, or make it owner-only (chmod {mode:o} {path})"
            ) from None
        line = (
            f"{path} was open to other accounts (mode {stat.S_IMODE(found.st_mode):04o}): "
            f"made owner-only ({mode:04o})"
        )
        log.warning("%s", line)
        changed.append(line)
    return changed


def sqlite_files(database: Path) -> list[Path]:
    """A SQLite database and the journal files SQLite keeps beside it."""
    return [database, *(database.with_name(database.name + s) for s in ("-wal", "-shm"))]


def tighten_instance(config: Config) -> list[str]:
    """Tighten every private place the settings name: the instance, archive, certificates and
    drafts folders, the SQLite database with its journal files, the secret key and the
    self-signed seal's key file."""
    sqlite = sqlite_file(config.database_url)
    database = sqlite_files(sqlite) if sqlite is not None else []
    folders = [config.INSTANCE_PATH, config.ARCHIVE_DIR, config.CERTIFICATES_DIR, config.DRAFTS_DIR]
    keys = [config.INSTANCE_PATH / SECRET_KEY_FILE, config.CERTIFICATES_DIR / CURRENT_SEAL]
    return tighten(folders, [*database, *keys])
