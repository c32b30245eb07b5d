"""The hostile inputs the tablet and the command are both tried with: the tablet's fields and
what each kind of bad value must give, the signature pads, and the demo submission they go in."""

from __future__ import annotations

import copy
import json
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any

from intake.definition import FormCatalog
from tests.support.app import B12, DEMO_PATH, FORMS_DIR

#: Leave the field out of the post (or the key out of the JSON) altogether.
MISSING = object()


DEMO_TEXT = DEMO_PATH.read_text(encoding="utf-8")


def demo() -> dict[str, Any]:
    """The demo submission: complete and valid (a fresh copy each call)."""
    return json.loads(DEMO_TEXT)


def minor_of(data: dict[str, Any]) -> dict[str, Any]:
    """`data` for a patient who is 15 today, with her mother's block and signature."""
    data = copy.deepcopy(data)
    today = date.today()
    data["patient"]["date_of_birth"] = today.replace(year=today.year - 15).isoformat()
    pad = {k: v for k, v in data["signature"].items() if k != "typed_name"}
    data["guardian"] = {"name": "Ann O'Brien", "relationship": "mother", "signature": pad}
    return data


HUGE_INT = "1" + "0" * 400


DEEP_LIST = "[" * 100_000 + "]" * 100_000


#: Zero-width space, word joiner, byte-order mark, Hangul filler, a variation selector: each
#: shows nothing, so a name of them only is no name.
INVISIBLE = {
    "zero-width-spaces": "\u200b\u200b",
    "word-joiner": "\u2060",
    "byte-order-mark": "\ufeff",
    "hangul-filler": "\u3164",
    "joiner-and-selector": "\u200b \ufe0f \u200d",
}


#: "Zoë O'Brien" as a browser shows it, stored backwards behind a right-to-left override; and
#: the other embedding, override and isolate controls. The PDF prints characters in stored
#: order, the staff pages as the browser reorders them: the two would disagree.
OVERRIDES = {
    "RLO": "\u202eneirB'O ëoZ",
    "LRO": "\u202dZoë O'Brien",
    "RLE": "\u202bZoë\u202c O'Brien",
    "LRE": "\u202aZoë O'Brien",
    "RLI": "Zoë \u2067O'Brien\u2069",
    "FSI": "\u2068Zoë O'Brien\u2069",
    "LRI": "\u2066Zoë O'Brien",
}


DEFINITION = FormCatalog(FORMS_DIR).get(B12)


#: 10,000 characters: the longest health answer; longer than any other field takes.
TEN_THOUSAND = ("abcdefghi " * 1000)[:9_999] + "z"


#: id -> (value, what kind of bad it is). MISSING leaves the field out of the post.
VALUES: dict[str, tuple[Any, str]] = {
    "missing": (MISSING, "blank"),
    "empty": ("", "blank"),
    "spaces": ("   ", "blank"),
    "unicode-spaces": ("\u00a0\u3000\u2003", "blank"),
    "zero-width": ("\u200b\u2060", "blank"),
    "10000-chars": (TEN_THOUSAND, "long"),
    "10001-chars": (TEN_THOUSAND + "z", "long"),
    "nul": ("Zoë\x00O'Brien", "control"),
    "escape-codes": ("a\x07b\x1b[2Jc\x7f", "control"),
    "c1-control": ("a\x85b", "control"),
    "rtl-override": ("\u202eevil", "control"),
    "newline": ("line one\nline two", "lines"),
    "crlf-tab": ("line one\r\n\tline two", "lines"),
    "script": ("<script>alert(1)</script>", "text"),
    "para": ("<para>a</para>", "text"),
    "img": ('<img src="file:///etc/passwd"/>', "text"),
    "font": ('<font color="[[[...]]]">x</font>', "text"),
    "amp-unbalanced-b": ("Tom &amp; Jerry <b>bold", "text"),
    "arabic": ("محمد العلي", "text"),
    "hebrew": ("דוד לוי", "text"),
    "diaeresis": ("Zoë", "text"),
    "combining": ("Ze\u0301", "text"),
    "emoji": ("👩🏽\u200d⚕️", "text"),
    "sql": ("Robert'); DROP TABLE consents;--", "text"),
    "cjk": ("山田 太郎", "text"),
    # For a yes/no question or a tick only: almost a choice.
    "capital-yes": ("Yes", "text"),
    "text-false": ("false", "text"),
}


@dataclass(frozen=True)
class Field:
    """A tablet field: its step, name, kind of check, the words its errors start with."""

    step: str
    name: str
    #: Where the submission JSON has it, as errors name it.
    path: str
    kind: str  # text, lines, date, phone, email, typed, radio, tick
    label: str
    max_len: int = 0
    required: bool = True

    @property
    def anchor(self) -> str:
        """Where the error summary's link for this field jumps to."""
        return f"{self.name}-0" if self.kind == "radio" else self.name


def tablet_fields() -> list[Field]:
    statements = [a for a in DEFINITION.acknowledgments if not a.esign]
    esign = next(a for a in DEFINITION.acknowledgments if a.esign)
    p, ec = "patient", "patient.emergency_contact"
    return [
        Field("details", "legal_name", f"{p}.legal_name", "text", "Legal name", 200),
        Field(
            "details",
            "preferred_name",
            f"{p}.preferred_name",
            "text",
            "Preferred name",
            200,
            required=False,
        ),
        Field("details", "date_of_birth", f"{p}.date_of_birth", "date", "Date of birth", 10),
        Field("details", "phone", f"{p}.phone", "phone", "Phone", 40),
        Field("details", "email", f"{p}.email", "email", "Email", 254, required=False),
        Field("details", "address", f"{p}.address", "lines", "Home address", 500),
        Field("details", "ec_name", f"{ec}.name", "text", "Emergency contact name", 200),
        Field("details", "ec_phone", f"{ec}.phone", "phone", "Emergency contact phone", 40),
        Field(
            "details",
            "ec_relationship",
            f"{ec}.relationship",
            "text",
            "Emergency contact relationship",
            100,
        ),
        Field(
            "details",
            "primary_physician",
            f"{p}.primary_physician",
            "text",
            "Primary physician",
            300,
            required=False,
        ),
        Field("health", "allergies", "health.allergies", "lines", "Allergies", 10_000),
        Field(
            "health",
            "medications",
            "health.medications",
            "lines",
            "Medications and supplements",
            10_000,
        ),
        Field("health", "conditions", "health.conditions", "lines", "Medical conditions", 10_000),
        *(
            Field("health", f"q_{q.id}", f"screening.{q.id}", "radio", f"Question {n}")
            for n, q in enumerate(DEFINITION.screening, start=1)
        ),
        *(
            Field("consent", f"a_{a.id}", f"acknowledgments.{a.id}", "tick", f"Statement {n}")
            for n, a in enumerate(statements, start=1)
        ),
        Field(
            "consent",
            f"a_{esign.id}",
            f"acknowledgments.{esign.id}",
            "tick",
            "The consent to sign electronically",
        ),
        Field("sign", "typed_name", "signature.typed_name", "typed", "Your typed name", 200),
        Field("sign", "guardian_name", "guardian.name", "text", "The guardian's name", 200),
        Field(
            "sign",
            "guardian_relationship",
            "guardian.relationship",
            "text",
            "The guardian's relationship",
            100,
        ),
    ]


FIELDS = tablet_fields()


def expected_message(field: Field, value: Any, kind: str, *, web: bool = True) -> str | None:
    """What must be said about `value` in `field` (without the field's name), or None: accepted.

    The README's rules, in the order the checks run: required, length, control characters,
    then the field's own format. `web`: as the tablet posts it (a radio or a tick is a string
    there; a ticked box posts any value), else as JSON given to the command.
    """
    if field.kind == "radio":
        return (
            None if value is True or value is False else "must be answered yes or no, or not sure"
        )
    if field.kind == "tick":
        # WTForms reads an absent box, "" or "false" as unticked, anything else as ticked.
        ticked = value not in (MISSING, "", "false") if web else value is True
        return None if ticked else "must be ticked to go on"
    if kind == "blank" or value is None:
        return "is required" if field.required else None
    if not isinstance(value, str):
        return "must be text"
    text = unicodedata.normalize("NFC", value).strip()
    if len(text) > field.max_len:
        return f"is too long ({len(text):,} characters; at most {field.max_len:,})"
    if kind == "control" or (kind == "lines" and field.kind != "lines"):
        return "contains a control character; please retype it"
    return {
        "date": "must be a date written YYYY-MM-DD",
        "phone": "is not a phone number (7 to 15 digits)",
        "email": "is not an email address (name@example.org)",
        "typed": "must match your legal name",
    }.get(field.kind)


#: A yes/no question or a tick takes no text, so one value of each kind is enough there, and
#: what a choice may be instead of "yes", "no" or "y".
CHOICE_VALUES = [
    "missing",
    "empty",
    "spaces",
    "10000-chars",
    "nul",
    "escape-codes",
    "rtl-override",
    "script",
    "img",
    "arabic",
    "combining",
    "emoji",
    "sql",
    "capital-yes",
    "text-false",
]


def values_for(field: Field, values: dict[str, Any]) -> list[str]:
    if field.kind in ("radio", "tick"):
        return [v for v in values if v in CHOICE_VALUES or v.startswith("json-")]
    return [v for v in values if v not in ("capital-yes", "text-false")]


def pad(strokes: Any, width: Any = 600, height: Any = 200, **dumps: Any) -> str:
    """A pad field as the tablet's script posts it (NaN and Infinity written as JSON allows)."""
    return json.dumps({"width": width, "height": height, "strokes": strokes}, **dumps)


LINE = [[300, 100], [420, 120]]
NAN, INF = float("nan"), float("inf")
EMPTY = "is empty: please sign on the pad"
SMALL = "is too small to be a signature: please sign again"
NOT_NUMBERS = "must be a point [x, y] of two numbers"
OUTSIDE = "lies outside the signature pad"
SIZE = "must be a number from 1 to 5000"
COMPACT = {"separators": (",", ":")}


#: id -> (the pad field as posted, the message at the pad; 413 for a body over the limit).
PADS: dict[str, tuple[Any, str | int]] = {
    "missing": (MISSING, EMPTY),
    "empty": ("", EMPTY),
    "spaces": ("   ", EMPTY),
    "not-json": ("not json", EMPTY),
    "json-null": ("null", EMPTY),
    "json-list": ("[]", EMPTY),
    "json-text": ('"strokes"', EMPTY),
    "empty-object": ("{}", EMPTY),
    "no-strokes": (pad([]), EMPTY),
    "strokes-as-text": (pad("M 0 0 L 100 100"), EMPTY),
    "deep-list": (DEEP_LIST, EMPTY),
    "one-point": (pad([[[300, 100]]]), SMALL),
    "a-dot": (pad([[[300, 100], [303, 101]]]), SMALL),
    "nan": (pad([[[NAN, 50], *LINE]]), NOT_NUMBERS),
    "infinity": (pad([[*LINE, [INF, 50]]]), NOT_NUMBERS),
    "minus-infinity": (pad([[*LINE, [50, -INF]]]), NOT_NUMBERS),
    "1e309": (pad([[*LINE]]).replace("420", "1e309"), NOT_NUMBERS),
    "400-digits": (pad([[*LINE]]).replace("420", HUGE_INT), NOT_NUMBERS),
    "text-coordinate": (pad([[["40", 50], *LINE]]), NOT_NUMBERS),
    "three-numbers": (pad([[[40, 50, 1], *LINE]]), NOT_NUMBERS),
    "true-coordinate": (pad([[[True, 50], *LINE]]), NOT_NUMBERS),
    "point-object": (pad([[{"x": 40, "y": 50}, *LINE]]), NOT_NUMBERS),
    "negative": (pad([[[-5, 50], *LINE]]), OUTSIDE),
    "1e308": (pad([[[1e308, 50], *LINE]]), OUTSIDE),
    "minus-1e308": (pad([[*LINE, [40, -1e308]]]), OUTSIDE),
    "empty-stroke": (pad([LINE, []]), "must be a non-empty list of points"),
    "stroke-not-list": (pad([LINE, "x"]), "must be a non-empty list of points"),
    "width-nan": (pad([LINE], width=NAN), SIZE),
    "width-zero": (pad([LINE], width=0), SIZE),
    "width-1e6": (pad([LINE], width=1e6), SIZE),
    "width-text": (pad([LINE], width="600"), SIZE),
    "height-negative": (pad([LINE], height=-200), SIZE),
    "101-strokes": (pad([LINE] * 101), "has too many strokes (at most 100)"),
    # The big ones are made when their test runs (a function), not at collection.
    "5001-point-stroke": (
        lambda: pad([[[n % 600, 100] for n in range(5001)]], **COMPACT),
        "has too many points (at most 5,000)",
    ),
    "20001-points": (
        lambda: pad([[[n % 600, 100] for n in range(5000)]] * 4 + [[[1, 1]]], **COMPACT),
        "has too many points (at most 20,000)",
    ),
    # 100,000 points as the script writes them (one decimal): 2.0 MB posted, just under the
    # 2 MiB limit, so the field's own limit refuses them; 150,000 points (3.0 MB) are over it.
    "100000-points": (
        lambda: pad([[[599.9, 199.9]] * 5000] * 20),
        "has too many points (at most 20,000)",
    ),
    "150000-points": (lambda: pad([[[599.9, 199.9]] * 5000] * 30), 413),
    "5MB": (lambda: "x" * 5_000_000, 413),
}
