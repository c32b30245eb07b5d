"""What the archive raises, and how a storage failure is worded for staff.

A storage failure's reason names the place that fails first ("the archive folder is full",
"the archive database is read-only"), so a reason alone tells whether a consent waits for
storage. Reasons are built from error codes only, never from an error's message, which might
quote a patient's data.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from intake.languages import N_, Said


class ArchiveError(Exception):
    """An archive action that cannot be done, with a reason fit to show to staff (a msgid, or a
    `Said` with its values, which `str()` gives back whole so a page can say it in its
    language and a row can keep it as such)."""

    def __str__(self) -> str:
        message = self.args[0] if len(self.args) == 1 else None
        return message if isinstance(message, Said) else super().__str__()


class ConsentMissing(ArchiveError, KeyError):
    """No consent has this id (or it was deleted)."""


class ArchiveUnavailable(ArchiveError):
    """The archive cannot be written now: its database (or folder) is full, read-only or out of
    reach. Nothing was kept. The message is for staff and never quotes a patient's data."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"The consent could not be saved: {reason}.")
        #: What fails, for staff: "the archive database is full".
        self.reason = reason


#: Every reason a storage failure gives starts with the place that fails.
FOLDER, DATABASE = N_("the archive folder"), N_("the archive database")
#: Where the clinic's sealing certificate and its key are kept (a reason's place).
CERTIFICATES = "the certificates folder"
#: What an `OSError` without a phrase of its own says, with its code.
CANNOT_WRITE = N_("cannot be written (%(code)s)")

_OS_ERRORS = {
    errno.ENOSPC: N_("is full"),
    errno.EDQUOT: N_("is full (over its disk quota)"),
    errno.EROFS: N_("is read-only"),
    errno.EACCES: N_("is not writable by the app (permissions)"),
    errno.EPERM: N_("is not writable by the app (permissions)"),
    errno.EIO: N_("reports disk read or write errors"),
    errno.ENOENT: N_("is missing"),
}
_SQLITE_ERRORS = {
    "SQLITE_FULL": N_("is full"),
    "SQLITE_READONLY": N_("is read-only"),
    "SQLITE_PERM": N_("is not writable by the app (permissions)"),
    "SQLITE_CANTOPEN": N_("cannot be opened"),
    "SQLITE_IOERR": N_("reports disk read or write errors"),
    "SQLITE_BUSY": N_("is busy: another writer held it too long"),
    "SQLITE_LOCKED": N_("is busy: another writer held it too long"),
    "SQLITE_CORRUPT": N_("is damaged"),
    "SQLITE_NOTADB": N_("is damaged"),
}
_POSTGRES_ERRORS = {
    "53100": N_("is full"),
    "25006": N_("is read-only"),
    "53300": N_("cannot be reached"),
}


def storage_reason(error: BaseException, place: str = FOLDER) -> str | None:
    """Why storing failed, for staff ("the archive folder is full"), or None when `error` is not
    a storage failure. Built from error codes only: never from a message that might quote data.
    `place` names what an `OSError` came from."""
    if isinstance(error, OSError):
        return f"{place} {os_phrase(error)}"
    if isinstance(error, DBAPIError) and not isinstance(error, IntegrityError):
        orig = error.orig
        name = getattr(orig, "sqlite_errorname", None)
        if isinstance(name, str):
            what = _SQLITE_ERRORS.get("_".join(name.split("_")[:2]))
            return f"{DATABASE} {what}" if what else None
        state = getattr(orig, "sqlstate", None)
        if isinstance(state, str) and state in _POSTGRES_ERRORS:
            return f"{DATABASE} {_POSTGRES_ERRORS[state]}"
        if error.connection_invalidated or (
            isinstance(error, OperationalError) and (not state or state[:2] in ("08", "57"))
        ):
            return f"{DATABASE} cannot be reached"
    return None


def os_phrase(error: OSError) -> Said:
    """What an `OSError` says of the place it came from ("is full"), from its code only."""
    code = error.errno or 0
    if code in _OS_ERRORS:
        return Said(_OS_ERRORS[code])
    return Said(CANNOT_WRITE, code=errno.errorcode.get(code, "OSError"))


def database_reason(error: BaseException, url: URL) -> str | None:
    """`storage_reason` for an error of the database at `url`; a SQLite file that "cannot be
    opened" (its journal cannot be made) is told apart when its disk is read-only or full."""
    reason = storage_reason(error, DATABASE)
    path = url.database if url.get_backend_name() == "sqlite" else ""
    if reason == f"{DATABASE} cannot be opened" and path and path != ":memory:":
        try:
            disk = os.statvfs(Path(path).parent)
        except OSError:
            return reason
        if disk.f_flag & os.ST_RDONLY:
            return f"{DATABASE} is read-only"
        if disk.f_bavail == 0:
            return f"{DATABASE} is full"
    return reason


#: Every phrase a storage reason ends with after its place (the catalog holds each).
STORAGE_PHRASES = frozenset(
    [
        *_OS_ERRORS.values(),
        *_SQLITE_ERRORS.values(),
        *_POSTGRES_ERRORS.values(),
        "cannot be reached",
    ]
)


def is_storage_reason(reason: str | None) -> bool:
    """Whether a consent's recorded reason is a storage failure's (it waits for storage)."""
    return bool(reason) and reason.startswith((FOLDER, DATABASE))
