"""An export zip's members by name, kept on disk rather than in memory.

`export verify` must find each manifest entry's member, and name every member the manifest does
not list, whatever the two's order. A map of every name would grow with the zip (some 350 MB
at a million consents, with zipfile's entries); this index is a private temporary SQLite
database on disk, filled from the central directory a page at a time (`zip_reader`), whose
page cache is bounded: memory stays flat in the zip's size.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from types import TracebackType
from typing import IO

from intake.archive import zip_reader
from intake.archive.zip_reader import Member

#: How many directory entries go into the index in one statement.
BATCH = 1000
#: The index's page cache, in KiB (SQLite's negative `cache_size`).
CACHE_KIB = 2048

_FIELDS = ("name", "offset", "compressed_size", "size", "crc", "method", "flags")


class MemberIndex:
    """The zip `file`'s members (directories left out) by name, each marked once listed.

    A name held twice is the later member (as zipfile reads it) at the earlier one's place.
    """

    def __init__(self, file: IO[bytes]) -> None:
        self.file = file
        # An empty name: a private database in a temporary file, removed when closed.
        self.db = sqlite3.connect("")
        self.db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        self.db.execute(
            "CREATE TABLE member (position INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, "
            "offset INTEGER, compressed_size INTEGER, size INTEGER, crc INTEGER, "
            "method INTEGER, flags INTEGER, listed INTEGER NOT NULL DEFAULT 0)"
        )
        batch: list[tuple[object, ...]] = []
        for member in zip_reader.members(file):
            if member.is_dir:
                continue
            batch.append(tuple(getattr(member, field) for field in _FIELDS))
            if len(batch) >= BATCH:
                self._add(batch)
                batch.clear()
        self._add(batch)

    def _add(self, batch: list[tuple[object, ...]]) -> None:
        updates = ", ".join(f"{field} = excluded.{field}" for field in _FIELDS[1:])
        self.db.executemany(
            f"INSERT INTO member ({', '.join(_FIELDS)}) VALUES ({', '.join('?' * len(_FIELDS))}) "
            f"ON CONFLICT (name) DO UPDATE SET {updates}",
            batch,
        )

    def __enter__(self) -> MemberIndex:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.db.close()

    def get(self, name: str) -> Member | None:
        row = self.db.execute(
            f"SELECT {', '.join(_FIELDS)} FROM member WHERE name = ?", (name,)
        ).fetchone()
        return None if row is None else Member(*row)

    def list(self, name: str) -> Member | None:
        """The member named `name`, marked as listed by the manifest; None if there is none."""
        member = self.get(name)
        if member is not None:
            self.db.execute("UPDATE member SET listed = 1 WHERE name = ?", (name,))
        return member

    def unlisted(self) -> Iterator[str]:
        """The names of the members not marked as listed, in the zip's order."""
        for (name,) in self.db.execute(
            "SELECT name FROM member WHERE listed = 0 ORDER BY position"
        ):
            yield name

    def open(self, name: str) -> IO[bytes]:
        """A reader of the member `name`'s bytes; `zipfile.BadZipFile` when there is none."""
        member = self.get(name)
        if member is None:
            raise zip_reader.BadZipFile(f"There is no item named {name!r} in the archive")
        return zip_reader.open_member(self.file, member)

    def read(self, member: Member) -> bytes:
        return zip_reader.read_member(self.file, member)
