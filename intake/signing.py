"""How a patient signs: drawn on the pad, or by typed name with a staff member as witness.

ESIGN accepts any sound, symbol or process adopted with intent to sign. A patient who cannot use
the pad (tremor, arthritis, a visual impairment) types their full name as their signature, and a
staff member present confirms it with their own login. The submission records it in
`signature`: `{"method": "typed", "typed_name": ..., "witness": {"staff_id": ..., "name": ...}}`
and no strokes. Drawing on the pad stays the default (`"method"` absent or `"drawn"`).

Also here: the name comparison shared by the typed name and the legal name.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from intake.submission import _Checker

DRAWN = "drawn"
TYPED = "typed"
METHODS = (DRAWN, TYPED)

#: Characters a phone or tablet keyboard types in place of the plain ones, folded before names
#: are compared: an iPad types "O’Brien" where the ID reads "O'Brien".
_FOLD = str.maketrans(
    {
        **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032\u02bc\u02bb\u0060\u00b4", "'"),
        **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033", '"'),
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d", "-"),
    }
)


def name_key(name: str) -> str:
    """A name as compared: NFC, case folded, spaces collapsed, typographic apostrophes,
    quotes, hyphens and dashes folded to the plain ones."""
    return " ".join(unicodedata.normalize("NFC", name).translate(_FOLD).casefold().split())


def same_name(a: str, b: str) -> bool:
    """Names match when they differ only in case, spacing, Unicode normalisation, or the kind
    of apostrophe, quote, hyphen or dash."""
    return name_key(a) == name_key(b)


@dataclass(frozen=True)
class Witness:
    """The staff member who saw the patient adopt their typed name as their signature and
    confirmed it with their login."""

    staff_id: str
    name: str


def check_witness(c: _Checker, data: Any, name: str) -> Witness | None:
    """The witness of a typed-name signature: the staff account's id and name."""
    w = c.mapping(data, name)
    if not isinstance(data, Mapping):
        return None
    staff_id = c.text(w, "staff_id", name, max_len=64)
    staff_name = c.text(w, "name", name, max_len=200)
    return Witness(staff_id, staff_name) if staff_id and staff_name else None
