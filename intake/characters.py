"""Which characters a typed value may hold, and how an error names a key the data made up.

The submission's checks (`intake.submission`) refuse control characters and direction controls
in a value, and take a value of only characters that show nothing for an empty one.
"""

from __future__ import annotations

import unicodedata
from typing import Any

LINE_BREAKS = {"\n", "\r", "\t"}
#: The bidirectional embeddings, overrides and isolates: with them a value shows in another
#: order than it is stored (the PDF prints stored order, a browser reorders), so a name could
#: read as someone else's on the staff pages. The marks (LRM, RLM, ALM) reorder nothing.
DIRECTION_CONTROLS = {*map(chr, range(0x202A, 0x202F)), *map(chr, range(0x2066, 0x206A))}
#: Characters that show nothing besides white space and format characters (zero-width space,
#: joiners, the byte-order mark): combining grapheme joiner, Hangul fillers, Braille blank,
#: variation selectors. A value of only these is empty.
SHOWS_NOTHING = {
    "\u034f",
    "\u115f",
    "\u1160",
    "\u2800",
    "\u3164",
    "\uffa0",
    *map(chr, range(0xFE00, 0xFE10)),
    *map(chr, range(0xE0100, 0xE01F0)),
}


def shown_key(key: Any, limit: int = 60) -> str:
    """A key the submission made up, as an error may name it: on one line, control characters
    escaped (`\\n`, `\\x1b`), at most `limit` characters and an ellipsis."""
    key = str(key)
    shown = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in key[:limit])
    return shown + ("…" if len(key) > limit else "")


def shows_nothing(ch: str) -> bool:
    return ch.isspace() or ch in SHOWS_NOTHING or unicodedata.category(ch) == "Cf"
