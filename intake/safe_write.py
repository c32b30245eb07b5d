"""The one way the project writes a file that must never be seen half-written."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_file(path: Path, data: bytes, *, mode: int = 0o600, replace: bool = True) -> bool:
    """Write `data` to a temporary file beside `path`, fsync it, then put it in place.

    With `replace`, an existing file is replaced (rename). Without, the file is hard-linked into
    place only if none is there yet, and False tells that another writer was first. Readers see
    the old file, or the whole new one, never a part. The folder is fsynced too, so the new name
    itself survives a power cut.
    """
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.chmod(tmp_name, mode)
        if replace:
            os.replace(tmp_name, path)
        else:
            try:
                os.link(tmp_name, path)
            except FileExistsError:
                return False
            Path(tmp_name).unlink()
        fsync_folder(path.parent)
        return True
    finally:
        Path(tmp_name).unlink(missing_ok=True)


def fsync_folder(folder: Path) -> None:
    """Make a folder's entries (a new, renamed or removed file) reach the disk."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
