"""A zip's central directory read a page at a time, and its members read from their offsets.

`zipfile.ZipFile` reads every member's entry when it opens a zip (some 350 bytes a member:
350 MB at a million consents). This reader finds the end-of-central-directory record (zip64
included), then yields the directory's entries in order through a small buffer, so memory stays
flat in the zip's size. A member's data is read from its local header's offset, inflated when
deflated, and its CRC-32 and size checked as zipfile checks them. Every fault is a
`zipfile.BadZipFile`.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any
from zipfile import ZIP_DEFLATED, ZIP_STORED, BadZipFile

from intake.archive.zip_format import (
    CENTRAL,
    CENTRAL_SIGNATURE,
    END,
    END64,
    END64_SIGNATURE,
    END_SIGNATURE,
    LOCAL,
    LOCAL_SIGNATURE,
    LOCATOR,
    LOCATOR_SIGNATURE,
    ZIP64_EXTRA,
)

#: How many bytes of the central directory are read at a time.
PAGE_BYTES = 64 * 1024
#: How many bytes of a member are read (and inflated) at a time.
CHUNK = 64 * 1024


@dataclass(frozen=True)
class Member:
    """One entry of the central directory."""

    name: str
    offset: int
    compressed_size: int
    size: int
    crc: int
    method: int
    flags: int

    @property
    def is_dir(self) -> bool:
        return self.name.endswith("/")


def members(file: IO[bytes]) -> Iterator[Member]:
    """The entries of the zip `file` (seekable, binary), in the central directory's order."""
    start, size, count, concat = _directory(file)
    page = io.BufferedReader(_Bounded(file, start, size), PAGE_BYTES)
    for _ in range(count):
        fields = _record(
            page,
            CENTRAL,
            CENTRAL_SIGNATURE,
            "Truncated central directory",
            "Bad magic number for central directory",
        )
        flags, method, crc = fields[5], fields[6], fields[9]
        compressed, plain = fields[10], fields[11]
        name_length, extra_length, comment_length = fields[12], fields[13], fields[14]
        offset = fields[18]
        raw_name = page.read(name_length)
        extra = page.read(extra_length)
        page.read(comment_length)
        if len(raw_name) != name_length or len(extra) != extra_length:
            raise BadZipFile("Truncated central directory")
        plain, compressed, offset = _zip64(extra, plain, compressed, offset)
        name = raw_name.decode("utf-8" if flags & 0x800 else "cp437")
        yield Member(name, offset + concat, compressed, plain, crc, method, flags)


def open_member(file: IO[bytes], member: Member) -> IO[bytes]:
    """A reader of the member's bytes (inflated), checking its CRC-32 and size at the end."""
    file.seek(member.offset)
    fields = _record(
        file,
        LOCAL,
        LOCAL_SIGNATURE,
        "Truncated file header",
        "Bad magic number for file header",
    )
    raw_name = file.read(fields[10])
    data_at = member.offset + LOCAL.size + fields[10] + fields[11]
    name = raw_name.decode("utf-8" if member.flags & 0x800 else "cp437")
    if name != member.name:
        raise BadZipFile(f"File name in directory {member.name!r} and header {name!r} differ.")
    if member.flags & 0x1:
        raise BadZipFile(f"File {member.name!r} is encrypted")
    if member.method not in (ZIP_STORED, ZIP_DEFLATED):
        raise BadZipFile(f"File {member.name!r}: compression method {member.method} unsupported")
    return io.BufferedReader(_MemberData(file, data_at, member), CHUNK)


def read_member(file: IO[bytes], member: Member) -> bytes:
    with open_member(file, member) as data:
        return data.read()


def _record(
    reader: IO[bytes], layout: struct.Struct, signature: bytes, truncated: str, bad: str
) -> tuple[Any, ...]:
    """The fields of the fixed-size record `layout` read next from `reader`, its signature
    first; `BadZipFile(truncated)` when the bytes run out, `BadZipFile(bad)` when the signature
    is not `signature`."""
    fixed = reader.read(layout.size)
    if len(fixed) != layout.size:
        raise BadZipFile(truncated)
    fields = layout.unpack(fixed)
    if fields[0] != signature:
        raise BadZipFile(bad)
    return fields


def _directory(file: IO[bytes]) -> tuple[int, int, int, int]:
    """Where the central directory starts, its size, its entry count, and how many bytes
    precede the zip (data prepended to it, as zipfile allows)."""
    file.seek(0, io.SEEK_END)
    length = file.tell()
    tail_start = max(0, length - END.size - 0xFFFF)
    file.seek(tail_start)
    tail = file.read()
    at = tail.rfind(END_SIGNATURE)
    while at >= 0 and len(tail) - at < END.size:
        at = tail.rfind(END_SIGNATURE, 0, at)
    if at < 0:
        raise BadZipFile("File is not a zip file")
    end_at = tail_start + at
    fields = END.unpack(tail[at : at + END.size])
    count, size, start = fields[4], fields[5], fields[6]
    if end_at >= LOCATOR.size:
        file.seek(end_at - LOCATOR.size)
        if LOCATOR.unpack(file.read(LOCATOR.size))[0] == LOCATOR_SIGNATURE:
            # The record stands just before its locator (its own offset is not used, so that
            # data prepended to the zip is allowed, as zipfile allows it).
            end64_at = end_at - LOCATOR.size - END64.size
            file.seek(end64_at)
            record = END64.unpack(file.read(END64.size))
            if record[0] != END64_SIGNATURE:
                raise BadZipFile("Corrupt zip64 end of central directory record")
            count, size, start = record[7], record[8], record[9]
            end_at = end64_at
    concat = end_at - size - start
    if concat < 0 or count < 0:
        raise BadZipFile("Bad offset for central directory")
    return start + concat, size, count, concat


def _zip64(extra: bytes, plain: int, compressed: int, offset: int) -> tuple[int, int, int]:
    """The sizes and offset, with those too large for 32 bits taken from the zip64 field."""
    at = 0
    while at + 4 <= len(extra):
        kind, length = struct.unpack_from("<2H", extra, at)
        if kind == ZIP64_EXTRA:
            values = iter(struct.unpack_from(f"<{length // 8}Q", extra, at + 4))
            try:
                if plain == 0xFFFFFFFF:
                    plain = next(values)
                if compressed == 0xFFFFFFFF:
                    compressed = next(values)
                if offset == 0xFFFFFFFF:
                    offset = next(values)
            except StopIteration:
                raise BadZipFile("Corrupt zip64 extra field") from None
            break
        at += 4 + length
    return plain, compressed, offset


class _Bounded(io.RawIOBase):
    """The `size` bytes of `file` from `start`, read from there whatever else moves the file
    (the manifest is read while members are)."""

    def __init__(self, file: IO[bytes], start: int, size: int) -> None:
        self.file, self.at, self.left = file, start, size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        self.file.seek(self.at)
        data = self.file.read(min(len(buffer), self.left))
        self.at += len(data)
        self.left -= len(data)
        buffer[: len(data)] = data
        return len(data)


class _MemberData(io.RawIOBase):
    """A member's data, inflated; `BadZipFile` when its CRC-32 or size is not the directory's."""

    def __init__(self, file: IO[bytes], start: int, member: Member) -> None:
        self.raw = _Bounded(file, start, member.compressed_size)
        self.member = member
        self.inflate = zlib.decompressobj(-15) if member.method == ZIP_DEFLATED else None
        self.crc = self.size = 0
        self.pending = b""
        self.done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self.pending and not self.done:
            if self.inflate is None:
                source = data = self.raw.read(CHUNK)
            else:
                # At most a chunk out for each call, whatever the ratio of the compression.
                source = self.inflate.unconsumed_tail or self.raw.read(CHUNK)
                try:
                    data = (
                        self.inflate.decompress(source, CHUNK) if source else self.inflate.flush()
                    )
                except zlib.error as exc:
                    problem = f"Bad compressed data for {self.member.name!r}: {exc}"
                    raise BadZipFile(problem) from None
            self.crc = zlib.crc32(data, self.crc)
            self.size += len(data)
            self.pending = data
            if not source:
                self.done = True
                self._check()
        taken = self.pending[: len(buffer)]
        buffer[: len(taken)] = taken
        self.pending = self.pending[len(taken) :]
        return len(taken)

    def _check(self) -> None:
        if self.raw.left:
            raise BadZipFile(f"Truncated data for file {self.member.name!r}")
        if self.size != self.member.size:
            raise BadZipFile(f"File size of {self.member.name!r} is not the directory's")
        if self.crc != self.member.crc:
            raise BadZipFile(f"Bad CRC-32 for file {self.member.name!r}")
