"""The one way the project writes a file that must never be seen half-written.

Every step is a plain `os` call (open, write, fsync, chmod, link or rename, unlink), so the crash
tests (`tests/test_crash_injection.py`) can stop the process at each one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_file(path: Path, data: bytes, *, mode: int = 0o600, replace: bool = True) -> bool:
    """Write `data` to a temporary file beside `path`, fsync it, then put it in place.

    With `replace`, an existing file is replaced (rename). Without, the file is hard-linked into
    place only if none is there yet, and False tells that another writer was first. Readers see
    the old file, or the whole new one, never a part. The folder is fsynced too, so the new name
    itself survives a power cut. Any failure (a full or read-only disk) raises its `OSError` and
    leaves no temporary file behind when it can be removed.
    """
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    placed = False
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fchmod(fd, mode)
            os.fsync(fd)
        finally:
            os.close(fd)
        if replace:
            os.replace(tmp_name, path)
        else:
            try:
                os.link(tmp_name, path)
            except FileExistsError:
                return False
            os.unlink(tmp_name)
        placed = True
        fsync_folder(path.parent)
        return True
    finally:
        if not placed:
            try:
                os.unlink(tmp_name)
            except OSError:
                # Gone already, or a read-only disk: `Archive.repair` removes a temporary file
                # left behind; the error that matters is the one already on its way out.
                pass


def make_folders(folder: Path, mode: int = 0o700) -> None:
    """Make `folder` and any missing parents, each new name fsynced into the folder above it."""
    folder = Path(folder)
    if folder.is_dir():
        return
    make_folders(folder.parent, mode)
    try:
        os.mkdir(folder, mode)
    except FileExistsError:
        return  # another writer made it (and fsyncs it)
    fsync_folder(folder.parent)


def fsync_folder(folder: Path) -> None:
    """Make a folder's entries (a new, renamed or removed file) reach the disk."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
