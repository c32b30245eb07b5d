"""A date of birth as a patient types it: the numbers in the order their language writes a date
(month/day/year in English, day/month/year in Spanish), or YYYY-MM-DD.

A date picker is no way to reach a birth year decades back on a tablet, so the field is text
with its format shown. What the patient typed becomes the submission's YYYY-MM-DD here; a value
that is not a date stays as typed, for the shared check to refuse next to the field. The same
rule runs in the browser (`tablet.js`), which refuses a date in the future as the field is left.
"""

from __future__ import annotations

import re
from datetime import date

#: The order of the numbers in a date, by language.
ORDER = {"en": "mdy", "es": "dmy"}
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TYPED = re.compile(r"^(\d{1,2})\s*[/.\-\s]\s*(\d{1,2})\s*[/.\-\s]\s*(\d{4})$")


def order_of(language: str) -> str:
    return ORDER.get(language, ORDER["en"])


def typed_to_iso(value: str, language: str) -> str:
    """`value` as YYYY-MM-DD when it is a real date written in `language`'s order; anything
    else unchanged (an ISO date included)."""
    text = value.strip()
    match = _TYPED.match(text)
    if _ISO.match(text) or not match:
        return value
    first, second, year = (int(n) for n in match.groups())
    month, day = (first, second) if order_of(language) == "mdy" else (second, first)
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return value


def iso_to_typed(value: str | None, language: str) -> str | None:
    """A stored YYYY-MM-DD as the patient's field shows it (04/12/1985); other values as they
    are."""
    if not isinstance(value, str) or not _ISO.match(value):
        return value
    try:
        born = date.fromisoformat(value)
    except ValueError:
        return value
    if order_of(language) == "mdy":
        return f"{born.month:02d}/{born.day:02d}/{born.year}"
    return f"{born.day:02d}/{born.month:02d}/{born.year}"
