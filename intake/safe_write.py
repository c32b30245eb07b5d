"""The one way the project writes a file that must never be seen half-written.

Every step is a plain `os` call (open, write, fsync, chmod, link or rename, unlink), so the crash
tests (`tests/test_crash_injection.py`) can stop the process at each one.
"""

from __future__ import annotations

import ctypes
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: What a streaming copy reads at a time.
CHUNK = 1 << 16


class SafeFile:
    """The temporary file a `safe_file` block writes: binary, seekable, written with `os.write`
    (no buffer), so zipfile or a copy loop can stream into it."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        #: Set once the block is done: whether the file was put in place (False: without
        #: `replace`, another writer was first).
        self.placed = False

    def write(self, data: bytes) -> int:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view) :]
        return len(data)

    def tell(self) -> int:
        return os.lseek(self.fd, 0, os.SEEK_CUR)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return os.lseek(self.fd, offset, whence)

    def flush(self) -> None:
        """Nothing is buffered; there for the file-like callers that ask."""

    def sync(self) -> None:
        """Make what is written so far reach the disk now (the block's end then has little to
        sync), such as before taking a lock that the rename must happen under."""
        os.fsync(self.fd)


@contextmanager
def safe_file(path: Path, *, mode: int = 0o600, replace: bool = True) -> Iterator[SafeFile]:
    """Write `path` in the block: into a temporary file beside it, owner-only from the moment it
    exists; at the block's end it gets `mode`, is fsynced, and is put in place.

    With `replace`, an existing file is replaced (rename). Without, the file is hard-linked into
    place only if none is there yet (`placed` tells whether it was). Readers see the old file,
    or the whole new one, never a part. The folder is fsynced too, so the new name itself
    survives a power cut. A failure in the block or at its end (a full or read-only disk) leaves
    no temporary file behind when it can be removed, and nothing in place.
    """
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    file = SafeFile(fd)
    kept = False
    try:
        try:
            yield file
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
                return
            os.unlink(tmp_name)
        kept = True
        fsync_folder(path.parent)
        file.placed = True
    finally:
        if not kept:
            try:
                os.unlink(tmp_name)
            except OSError:
                # Gone already, or a read-only disk: `Archive.repair` removes a temporary file
                # left behind; the error that matters is the one already on its way out.
                pass


def write_file(path: Path, data: bytes, *, mode: int = 0o600, replace: bool = True) -> bool:
    """Write `data` to `path` as `safe_file` does; False when, without `replace`, another
    writer was first."""
    with safe_file(path, mode=mode, replace=replace) as file:
        file.write(data)
    return file.placed


def copy_file(source: Path, path: Path, *, mode: int = 0o600, replace: bool = True) -> bool:
    """Copy `source` to `path` as `safe_file` writes, a chunk at a time."""
    with source.open("rb") as original, safe_file(path, mode=mode, replace=replace) as file:
        while chunk := original.read(CHUNK):
            file.write(chunk)
    return file.placed


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


def sync_tree(folder: Path) -> None:
    """Make every file and folder written under `folder` reach the disk: one `syncfs` of its
    file system on Linux (a batch of many small files, written without an fsync each, costs
    one), else an fsync of each file and folder in turn."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if sys.platform == "linux":
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.syncfs(fd) == 0:
                return
        for parent, _, files in os.walk(folder):
            for name in files:
                file = os.open(os.path.join(parent, name), os.O_RDONLY)
                try:
                    os.fsync(file)
                finally:
                    os.close(file)
            fsync_folder(Path(parent))
    finally:
        os.close(fd)
