"""A zip written a member at a time, its central directory kept on disk until the end.

`zipfile.ZipFile` keeps a `ZipInfo` for every member it writes (some 600 bytes each: 60 MB at
100,000 consents), to write the central directory when it closes. This writer puts each member's
central-directory record into a private temporary file as soon as the member is written, and
copies them after the last member, followed by the end records (zip64's too, when there are more
than 65,535 members or the zip passes 2 GiB, as zipfile decides): memory stays flat in the zip's
size. The records are those zipfile writes for the same members, so Python's zipfile, Info-ZIP's
`unzip` and `zip_reader` read the result.
"""

from __future__ import annotations

import struct
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import IO

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

#: Past this, a size or an offset goes in a zip64 field (zipfile's limit: readers that take the
#: 32-bit fields as signed still read the zip).
ZIP64_LIMIT = (1 << 31) - 1
#: Past this many members, the count goes in the zip64 end record.
COUNT_LIMIT = (1 << 16) - 1
STORED, DEFLATED = 0, 8
#: The versions a reader needs (and this writer is made as): zipfile's.
_VERSION = {STORED: 20, DEFLATED: 20}
_ZIP64_VERSION = 45
#: Made on Unix (the external attributes carry a Unix mode), as zipfile marks it on POSIX.
_UNIX = 3
_UTF8_NAME = 0x800
#: What a member's bytes are copied in, at a time.
CHUNK = 1 << 16

DateTime = tuple[int, int, int, int, int, int]


class ZipWriter:
    """Members written one after another into the binary `file` (which need not seek), each
    owner-only (`mode`); temporary files go in `scratch` (beside the zip: the same disk).

    Used as a context manager: the central directory is written when the block ends without an
    error; after an error nothing more is written, and the zip has no end record (no reader
    takes it for a whole one).
    """

    def __init__(self, file: IO[bytes], scratch: Path, *, mode: int = 0o600) -> None:
        self.file = file
        self.scratch = scratch
        self.external_attr = mode << 16
        self.offset = _tell(file)
        self.count = 0
        self.directory: IO[bytes] = tempfile.TemporaryFile(dir=scratch)

    def __enter__(self) -> ZipWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if kind is None:
                self._finish()
        finally:
            self.directory.close()

    def write(self, name: str, data: bytes, date_time: DateTime) -> None:
        """`data` as the member `name`, stored (a PDF's streams are compressed already)."""
        self._member(name, date_time, STORED, zlib.crc32(data), len(data), len(data), [data])

    @contextmanager
    def open(self, name: str, date_time: DateTime) -> Iterator[IO[bytes]]:
        """A writer of the member `name`, deflated: what is written goes compressed into a
        temporary file, and into the zip when the block ends (its sizes then known)."""
        with tempfile.TemporaryFile(dir=self.scratch) as compressed:
            member = _Deflating(compressed)
            yield member
            member.finish()
            compressed.seek(0)
            self._member(
                name,
                date_time,
                DEFLATED,
                member.crc,
                member.size,
                member.compressed_size,
                iter(lambda: compressed.read(CHUNK), b""),
            )

    def _member(
        self,
        name: str,
        date_time: DateTime,
        method: int,
        crc: int,
        size: int,
        compressed_size: int,
        chunks: Iterator[bytes] | list[bytes],
    ) -> None:
        raw_name, flags = _encoded(name)
        dos_time, dos_date = _dos(date_time)
        version = _VERSION[method]
        header_offset = self.offset
        # The local header: a zip64 field when a size does not fit (zipfile's rule).
        local_extra = b""
        local_sizes = compressed_size, size
        local_version = version
        if size > ZIP64_LIMIT:
            local_extra = struct.pack("<2H2Q", ZIP64_EXTRA, 16, size, compressed_size)
            local_sizes = 0xFFFFFFFF, 0xFFFFFFFF
            local_version = _ZIP64_VERSION
        header = LOCAL.pack(
            LOCAL_SIGNATURE, local_version, 0, flags, method, dos_time, dos_date, crc,
            *local_sizes, len(raw_name), len(local_extra),
        )  # fmt: skip
        self._out(header + raw_name + local_extra)
        written = 0
        for chunk in chunks:
            self._out(chunk)
            written += len(chunk)
        if written != compressed_size:
            raise ValueError(f"{name}: {written} bytes written, {compressed_size} expected")
        # Its central-directory record: a zip64 field for what does not fit.
        values: list[int] = []
        sizes = compressed_size, size
        offset = header_offset
        if size > ZIP64_LIMIT or compressed_size > ZIP64_LIMIT:
            values += [size, compressed_size]
            sizes = 0xFFFFFFFF, 0xFFFFFFFF
        if header_offset > ZIP64_LIMIT:
            values.append(header_offset)
            offset = 0xFFFFFFFF
        extra = b""
        if values:
            extra = struct.pack(f"<2H{len(values)}Q", ZIP64_EXTRA, 8 * len(values), *values)
            version = _ZIP64_VERSION
        record = CENTRAL.pack(
            CENTRAL_SIGNATURE, version, _UNIX, version, 0, flags, method, dos_time, dos_date,
            crc, *sizes, len(raw_name), len(extra), 0, 0, 0, self.external_attr, offset,
        )  # fmt: skip
        self.directory.write(record + raw_name + extra)
        self.count += 1

    def _finish(self) -> None:
        """The central directory (copied from its temporary file) and the end records."""
        start = self.offset
        self.directory.flush()
        self.directory.seek(0)
        for chunk in iter(lambda: self.directory.read(CHUNK), b""):
            self._out(chunk)
        size = self.offset - start
        count = self.count
        if count > COUNT_LIMIT or start > ZIP64_LIMIT or size > ZIP64_LIMIT:
            end64_at = self.offset
            self._out(
                END64.pack(
                    END64_SIGNATURE,
                    END64.size - 12,
                    _ZIP64_VERSION,
                    _ZIP64_VERSION,
                    0,
                    0,
                    count,
                    count,
                    size,
                    start,
                )  # fmt: skip
                + LOCATOR.pack(LOCATOR_SIGNATURE, 0, end64_at, 1)
            )
            count, size, start = min(count, 0xFFFF), min(size, 0xFFFFFFFF), min(start, 0xFFFFFFFF)
        self._out(END.pack(END_SIGNATURE, 0, 0, count, count, size, start, 0))

    def _out(self, data: bytes) -> None:
        self.file.write(data)
        self.offset += len(data)


class _Deflating:
    """A member's bytes deflated (raw deflate, as zipfile's) into `into`, with their CRC-32."""

    def __init__(self, into: IO[bytes]) -> None:
        self.into = into
        self.deflate = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
        self.crc = self.size = self.compressed_size = 0

    def write(self, data: bytes) -> int:
        self.crc = zlib.crc32(data, self.crc)
        self.size += len(data)
        self._put(self.deflate.compress(data))
        return len(data)

    def finish(self) -> None:
        self._put(self.deflate.flush())
        self.into.flush()

    def _put(self, data: bytes) -> None:
        self.into.write(data)
        self.compressed_size += len(data)


def _encoded(name: str) -> tuple[bytes, int]:
    """The name's bytes and flags: ASCII as is, else UTF-8 marked so (as zipfile does)."""
    try:
        return name.encode("ascii"), 0
    except UnicodeEncodeError:
        return name.encode("utf-8"), _UTF8_NAME


def _dos(date_time: DateTime) -> tuple[int, int]:
    """MS-DOS time and date, as a zip's headers carry them (two-second steps, from 1980)."""
    year, month, day, hour, minute, second = date_time
    if year < 1980:
        raise ValueError("a zip's dates start in 1980")
    return hour << 11 | minute << 5 | second // 2, (year - 1980) << 9 | month << 5 | day


def _tell(file: IO[bytes]) -> int:
    try:
        return file.tell()
    except OSError:
        return 0
