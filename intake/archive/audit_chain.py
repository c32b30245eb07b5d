"""The audit trail's hash chain on plain DB-API rows: each row's hash, a page of them at a time,
and the whole chain's check, without SQLAlchemy (`intake audit verify` walks it on the
database driver's own connection; `audit` walks it on a session's).

A row's hash is the SHA-256 of the canonical JSON of `[seq, at, staff_id or "", ip,
user_agent, event, target, prev_sha256]` (`chained_sha256`); `page_hashes` makes the same
hashes for a page of rows in a few steps a row.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from json.encoder import encode_basestring as _json_string  # type: ignore[attr-defined]
from operator import methodcaller
from typing import Any

from intake.progress import Progress

GENESIS = "0" * 64

#: The columns a row's hash is made of, in its order (`audit.CHAINED`, as the models name them).
CHAINED_COLUMNS = ("seq", "at", "staff_id", "ip", "user_agent", "event", "target", "prev_sha256")
#: How many rows a walk reads at a time, and tells its progress by.
WALK_PAGE = 5000
#: The whole trail's chained columns in order: what every walk reads.
WALK_QUERY = f"SELECT {', '.join(CHAINED_COLUMNS)} FROM audit_events ORDER BY seq"  # noqa: S608


@dataclass(frozen=True)
class ChainReport:
    #: Rows 1 to `rows` were checked (all of them, for a full walk).
    rows: int
    #: The first row that does not hold, and why; None when every row checked holds.
    broken_seq: int | None = None
    reason: str = ""
    #: How many rows the trail holds, when fewer were checked (an incremental check stopped
    #: short); None when the check reached the newest row.
    written: int | None = None

    @property
    def holds(self) -> bool:
        return self.broken_seq is None

    @property
    def complete(self) -> bool:
        """Every row written was checked."""
        return self.written is None


def chained_sha256(row: tuple[Any, ...]) -> str:
    """A row's hash from its columns in `CHAINED_COLUMNS`' order: the SHA-256 of the canonical
    JSON of `[seq, at, staff_id or "", ip, user_agent, event, target, prev_sha256]`. The list
    is spelled here with the json module's own string encoder (what `canonical_json` gives a
    list of one number and strings, byte for byte: tests/test_audit_and_staff.py holds them
    equal), at a third of its cost."""
    seq, at, staff_id, ip, user_agent, event, target, prev_sha256 = row
    # A time without a zone is one read straight from the database, where times are UTC.
    when = at.isoformat() if at.tzinfo is not None else f"{at.isoformat()}+00:00"
    strings = (when, staff_id or "", ip, user_agent, event, target, prev_sha256)
    text = f"[{int(seq)},{','.join(map(_json_string, strings))}]"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def chain_holds(
    cursor: Any, head: tuple[int, str] | None, progress: Progress, page_size: int
) -> tuple[int, str] | None:
    """The newest row and its hash when every row `cursor` reads (it runs `WALK_QUERY`) follows
    the one before and the newest is `head`'s (the `audit_head` row's seq and SHA-256), else
    None: the walk that names the row then runs (`audit._walk`). A row's hash covers its own
    columns only (its `prev_sha256` as stored), so a page's hashes are made together
    (`page_hashes`) and the chain is checked by comparing the page's `prev_sha256` column
    with them, as lists."""
    cursor.execute(WALK_QUERY)
    expected_seq, expected_prev = 1, GENESIS
    while page := cursor.fetchmany(page_size):
        count = len(page)
        if [row[0] for row in page] != list(range(expected_seq, expected_seq + count)):
            return None
        hashes = page_hashes(page)
        if [expected_prev, *hashes[:-1]] != [row[7] for row in page]:
            return None
        expected_seq, expected_prev = expected_seq + count, hashes[-1]
        progress.advance(count)
    newest = expected_seq - 1
    if head is None or head[0] != newest or head[1] != expected_prev:
        return None
    return newest, expected_prev


_hexdigest: Callable[[Any], str] = methodcaller("hexdigest")
#: A row's strings after its staff id, between their quotes (a TypeError for one that is not).
_joined: Callable[[Any], str] = '","'.join
_encode: Callable[[str], bytes] = methodcaller("encode", "utf-8")


def page_hashes(page: list[tuple[Any, ...]]) -> list[str]:
    """`chained_sha256` of each row of `page` (columns in `CHAINED_COLUMNS`' order, the time as
    the driver gives it), made together. When every time is SQLite's own
    `YYYY-MM-DD HH:MM:SS.ffffff` (or a datetime) and no string needs escaping in JSON (no
    quote, backslash or control character: checked once over the page's texts), each row's
    JSON list is spelled by one format; else each row is hashed by `chained_sha256` itself."""
    if _staff_ids_are_text(page):
        times = [row[1] for row in page]
        texts = _sqlite_texts(page, times)
        if texts is None:
            whens = _iso_times(times)
            if whens is not None:
                texts = [
                    f'[{int(row[0])},"{when}","{row[2] or ""}","{_joined(row[3:])}"]'
                    for when, row in zip(whens, page, strict=True)
                ]
        if texts is not None and _nothing_to_escape(texts):
            return list(map(_hexdigest, map(hashlib.sha256, map(_encode, texts))))
    return [chained_sha256((seq, _as_time(at), *rest)) for seq, at, *rest in page]


def _staff_ids_are_text(page: list[tuple[Any, ...]]) -> bool:
    """Whether every staff id is text or empty, as `chained_sha256` takes it (a format would
    spell a number or bytes as text; the other strings go through `_joined`, which refuses
    them as `chained_sha256` does)."""
    try:
        "".join(filter(None, [row[2] for row in page]))
    except TypeError:
        return False
    return True


def _nothing_to_escape(texts: list[str]) -> bool:
    """No control character, no backslash, and no quote but the 14 around each list's seven
    strings (UTF-8 spells every other character with bytes over 127)."""
    try:
        joined = "".join(texts).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: `chained_sha256` raises what it raises
        return False
    return not joined.translate(None, _UNESCAPED) and joined.count(b'"') == _QUOTES * len(texts)


def _sqlite_texts(page: list[tuple[Any, ...]], times: list[Any]) -> list[str] | None:
    """The rows' JSON lists when every time is SQLite's text, else None."""
    try:
        every = "".join(times)
    except TypeError:  # not all text: datetimes, from PostgreSQL
        return None
    if every.translate(_DIGITS) != _SQLITE_TIME * len(times):
        return None
    # A date or time out of range is refused here as `_as_time` refuses it.
    all(map(datetime.fromisoformat, times))
    texts = [
        f'[{int(row[0])},"{row[1][:10]}T{row[1][11:]}+00:00","{row[2] or ""}","{_joined(row[3:])}"]'
        for row in page
    ]
    # `isoformat` leaves out a zero fraction of a second. Each time is `len(_SQLITE_TIME)`
    # characters, with its one "." before the fraction.
    zero = every.find(".000000")
    while zero != -1:
        n = zero // len(_SQLITE_TIME)
        at = times[n]
        texts[n] = texts[n].replace(f"T{at[11:]}+", f"T{at[11:19]}+", 1)
        zero = every.find(".000000", zero + 1)
    return texts


def _iso_times(times: list[Any]) -> list[str] | None:
    """Each time as `chained_sha256` spells it (a time without a zone is UTC), or None when one
    of them is text in another form than SQLite's own."""
    if not all(isinstance(at, str) for at in times):
        if not all(isinstance(at, datetime) for at in times):
            return None
        return [
            at.isoformat() if at.tzinfo is not None else f"{at.isoformat()}+00:00" for at in times
        ]
    if "".join(times).translate(_DIGITS) != _SQLITE_TIME * len(times):
        return None
    all(map(datetime.fromisoformat, times))  # refused as `_as_time` refuses it
    # `isoformat` leaves out a zero fraction of a second.
    return [
        f"{at[:10]}T{at[11:19]}+00:00" if at.endswith(".000000") else f"{at[:10]}T{at[11:]}+00:00"
        for at in times
    ]


def _as_time(at: Any) -> datetime:
    return at if isinstance(at, datetime) else datetime.fromisoformat(at)


#: The one form SQLite is given times in (SQLAlchemy's), every digit written as 0.
_SQLITE_TIME = "0000-00-00 00:00:00.000000"
_DIGITS = str.maketrans("0123456789", "0" * 10)
#: The quotes of a row's JSON list: two around each of its seven strings.
_QUOTES = 14
#: Every byte JSON leaves as it is in a string: all but the control characters, the quote and
#: the backslash (the quote is counted instead).
_UNESCAPED = bytes(b for b in range(256) if b >= 0x20 and b != 0x5C)
