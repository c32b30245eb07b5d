"""Properties of the consent PDF for any text a patient can give (hypothesis).

1. Any text in any free-text field of a valid submission is either refused by the validator
   with an error naming that field only, or renders; and pypdf gives it back.
2. The renderer itself renders any text (control characters too, which the validator refuses)
   without an exception, and the rest of the consent stays whole.
3. Markup is data: reportlab's tags and entities typed by a patient come back as typed, and
   make no image, link or other object in the PDF.

"Gives it back", honestly: the README promises real, extractable text in the fonts' coverage
(DejaVu Sans; Adobe's CID fonts for Chinese, Japanese and Korean). So, for the characters the
fonts have, and with white space left out (lines wrap anywhere):
- text without right-to-left letters or combining marks comes back in order, exactly;
- any text comes back as the same multiset of characters. pypdf reads a line that mixes
  directions in its own order and does not undo the mirroring of brackets, and the PDF keeps
  Arabic in its joined (presentation) forms, so characters are compared NFKC-normalised and
  with every mirrored character counted as one.
Characters no font has (most emoji, private use, unassigned code points) print as the
missing-glyph box: only submission.json, attached to the PDF, has them.

Deterministic for CI (derandomize, no example database) and bounded (about 30 s in all).
"""

from __future__ import annotations

import copy
import dataclasses
import io
import json
import re
import unicodedata
from collections import Counter
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader
from reportlab.pdfbase import pdfmetrics

from intake.definition import FormCatalog
from intake.pdf import render_consent
from intake.pdf.fonts import BODY, register_fonts
from intake.pdf.text import _CJK_RUN  # the one definition of what goes to the CJK fonts
from intake.submission import Submission, SubmissionInvalid, validate_submission
from tests.support.app import DEMO_PATH, FORMS_DIR

CATALOG = FormCatalog(FORMS_DIR)
DEFINITION = CATALOG.get("b12-methylcobalamin")
DEMO = json.loads(DEMO_PATH.read_text(encoding="utf-8"))
DOC_ID = "6f1c0d2e-3f40-4a5b-8c6d-7e8f9a0b1c2d"

PROPERTY = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --- What a patient may type --------------------------------------------------------------------

#: Characters worth more than their share of random picks: scripts the PDF must shape and
#: reorder, marks, emoji sequences, markup, white space and controls of every kind.
INTERESTING = (
    "محمد العلي مُحَمَّد لا الله ﷲ ٣٤٥"  # Arabic: joining, lam-alef, harakat, digits
    "שָׁלוֹם דוד"  # Hebrew with points
    "()[]{}<>«»"  # mirrored in right-to-left text
    "山田太郎김민준こんにちは、。"  # CJK
    "Zoë e\u0301 n\u0303 Łódź İı ß ﬁ"  # Latin, combining marks, case and compatibility traps
    "👩🏽\u200d⚕️🇺🇸❤\ufe0f"  # emoji: skin tone, ZWJ, flags, variation selector
    "<>&;\"'=/#"  # markup
    "\u00a0\u2003\u3000\t\n\r\u2028\u2029"  # white space, line and paragraph separators
    "\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u00ad"  # format characters
    "\x00\x07\x1b\x7f\x85"  # controls
    "\ue000\U000f0000\ufffd\uffff"  # private use, replacement, noncharacter
)

any_char = st.characters(exclude_categories=["Cs"])  # surrogates cannot be UTF-8
#: Words of every kind a patient may mix in one answer.
WORDS = [
    *"محمد العلي مُحَمَّد عبد الله لا ٣٤٥ (أخ) [١٢] شارع".split(),
    *"שָׁלוֹם דוד (אח) 12".split(),
    *"山田 太郎 김민준 こんにちは 「名前」".split(),
    *"Zoë e\u0301 n\u0303 Łódź İstanbul Straße ﬁle 𝕊 (1) [x] {y} «z»".split(),
    *"👩🏽\u200d⚕️ 🇺🇸 ❤\ufe0f 🙂".split(),
    *"<b> &amp; <para> <br/> O'Brien +1\u00a0555 1985-04-12 \u200b".split(),
]
chars = st.text(alphabet=st.one_of(any_char, st.sampled_from(INTERESTING)), max_size=120)
words_mixed = st.lists(
    st.one_of(st.sampled_from(WORDS), st.text(any_char, max_size=4)), max_size=14
).map(" ".join)
texts = st.one_of(
    chars,
    # Without the controls the validator refuses, so that more of them render.
    chars.map(lambda t: "".join(ch for ch in t if unicodedata.category(ch) != "Cc")),
    words_mixed,
)
markup_pieces = st.sampled_from(
    [
        "<para>",
        "</para>",
        "<b>",
        "</b>",
        "<i>",
        "<br/>",
        '<img src="file:///etc/passwd"/>',
        '<img src="http://127.0.0.1/x.png" width="9" height="9"/>',
        '<font color="[[[...]]]">',
        '<font name="Courier" size="40">',
        "</font>",
        '<a href="http://example.org/">',
        "</a>",
        '<link href="file:///etc/passwd">',
        "<seq/>",
        '<onDraw name="x"/>',
        "<span style='x'>",
        "&amp;",
        "&lt;",
        "&#x41;",
        "&#9999999;",
        "&nbsp;",
        "&bogus;",
        "<![CDATA[x]]>",
        "<!-- c -->",
        "<?xml ?>",
        "word",
        " ",
    ]
)
markups = st.lists(markup_pieces, min_size=1, max_size=12).map("".join)

# --- Where it may go ----------------------------------------------------------------------------

#: Free-text fields (JSON path) and how many times the PDF prints each.
TEXT_FIELDS = {
    "patient.preferred_name": 1,
    "patient.address": 1,
    "patient.primary_physician": 1,
    "patient.emergency_contact.name": 1,
    "patient.emergency_contact.relationship": 1,
    "health.allergies": 1,
    "health.medications": 1,
    "health.conditions": 1,
    "device.user_agent": 1,
    # The legal name is typed again to sign: Legal name, Printed name, Signed by.
    "patient.legal_name": 3,
    # A minor's guardian: Printed name and the Guardian row of the signing record.
    "guardian.name": 2,
}


def submission_with(path: str, value: str) -> dict[str, Any]:
    """The demo submission (a minor's, for a guardian field) with `value` at `path`."""
    data = copy.deepcopy(DEMO)
    if path.startswith("guardian."):
        data["patient"]["date_of_birth"] = "2014-06-01"  # 12 on the signing date
        pad = {k: v for k, v in data["signature"].items() if k != "typed_name"}
        data["guardian"] = {"name": "Ann O'Brien", "relationship": "mother", "signature": pad}
    *parents, key = path.split(".")
    node = data
    for parent in parents:
        node = node[parent]
    node[key] = value
    if path == "patient.legal_name":
        data["signature"]["typed_name"] = value
    return data


# --- Reading the PDF back -----------------------------------------------------------------------

FOOTER = re.compile(r"^Page \d+ of \d+ · .*$", re.MULTILINE)
#: The fingerprint of the submission differs with every value: left out of comparisons.
SUBMISSION_SHA = re.compile(r"Submission SHA-256\s*[0-9a-f]{64}")


def pdf_text(pdf: bytes) -> str:
    pages = PdfReader(io.BytesIO(pdf)).pages
    return SUBMISSION_SHA.sub("", FOOTER.sub("", "\n".join(p.extract_text() for p in pages)))


@cache
def dejavu() -> frozenset[int]:
    register_fonts()
    return frozenset(pdfmetrics.getFont(BODY).face.charToGlyph)


def drawn(ch: str) -> bool:
    """Whether a font of the PDF has `ch` (what text extraction can give back)."""
    return ord(ch) in dejavu() or bool(_CJK_RUN.fullmatch(ch))


def visible(ch: str) -> bool:
    """Not white space, a control, a format character or a line or paragraph separator."""
    category = unicodedata.category(ch)
    return not ch.isspace() and category[0] != "C" and category not in ("Zl", "Zp")


def key(text: str) -> str:
    """`text` as compared: each character a font has, decomposed (NFKD: the PDF's joined
    Arabic letters and ligatures back to letters, "é" and "e\u0301" alike), white space,
    controls and format characters left out."""
    return "".join(
        part
        for ch in text
        if drawn(ch)
        for part in unicodedata.normalize("NFKD", ch)
        if visible(part)
    )


def bag(text: str) -> Counter[str]:
    """The characters of `key(text)`, mirrored ones (brackets) counted as one."""
    return Counter("⇄" if unicodedata.mirrored(ch) else ch for ch in key(text))


RTL = re.compile(r"[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufeff]")


def in_order(value: str) -> bool:
    """Text pypdf gives back in order: no right-to-left letter, no combining mark."""
    return not RTL.search(value) and not any(unicodedata.combining(ch) for ch in value)


def render(data: dict[str, Any]) -> bytes:
    submission = validate_submission(data, CATALOG)
    return render_consent(DEFINITION, submission, document_id=DOC_ID)


@cache
def baseline(path: str) -> Counter[str]:
    """The characters of the consent with "Q" at `path`: what every other field contributes."""
    return bag(pdf_text(render(submission_with(path, "Q"))))


OTHER_FIELDS = ("Phone +1 555 010 2000", "Email zoe@example.org", "IP address 203.0.113.5")


def words(text: str) -> str:
    return " ".join(text.split())


# --- 1. The validator and the renderer, any text in any field -----------------------------------


@PROPERTY
@given(path=st.sampled_from(sorted(TEXT_FIELDS)), value=texts)
def test_any_text_in_any_field_is_refused_at_that_field_or_rendered_and_read_back(path, value):
    data = submission_with(path, value)
    try:
        submission = validate_submission(data, CATALOG)
    except SubmissionInvalid as invalid:
        event("refused")
        fields = {e.field for e in invalid.errors}
        if path == "patient.legal_name":
            assert fields <= {path, "signature.typed_name"}, invalid.errors
        else:
            assert fields == {path}, invalid.errors
        return
    event("rendered")
    pdf = render_consent(DEFINITION, submission, document_id=DOC_ID)
    text = pdf_text(pdf)
    shown = submission  # the value as the validator keeps it (trimmed, NFC)
    for name in path.split("."):
        shown = getattr(shown, name)
    assert isinstance(shown, str) and shown in (unicodedata.normalize("NFC", value).strip(), "")
    # Every character a font has comes back, as many times as the field is printed.
    times = TEXT_FIELDS[path]
    expected = baseline(path) - Counter({"Q": times})
    for _ in range(times):
        expected.update(bag(shown or "—"))  # an empty optional answer prints as a dash
    assert bag(text) == expected
    if in_order(shown):
        event("compared in order")
        assert key(shown) in key(text)
    if not path.startswith("guardian."):
        for row in OTHER_FIELDS:
            assert row in words(text)
    (attached,) = PdfReader(io.BytesIO(pdf)).attachments["submission.json"]
    assert json.loads(attached) == json.loads(json.dumps(data))


# --- 2. The renderer alone: any text, even what the validator refuses ---------------------------

VALID: Submission = validate_submission(submission_with("guardian.name", "Ann O'Brien"), CATALOG)


def replaced(submission: Submission, path: str, value: str) -> Submission:
    """`submission` with `value` at `path`, past the validator."""
    patient, health = submission.patient, submission.health
    guardian = submission.guardian
    assert guardian is not None
    match path:
        case "patient.legal_name":
            return dataclasses.replace(
                submission, patient=dataclasses.replace(patient, legal_name=value)
            )
        case "patient.address":
            return dataclasses.replace(
                submission, patient=dataclasses.replace(patient, address=value)
            )
        case "patient.emergency_contact.name":
            contact = dataclasses.replace(patient.emergency_contact, name=value)
            return dataclasses.replace(
                submission, patient=dataclasses.replace(patient, emergency_contact=contact)
            )
        case "health.allergies":
            return dataclasses.replace(
                submission, health=dataclasses.replace(health, allergies=value)
            )
        case "signature.typed_name":
            return dataclasses.replace(submission, typed_name=value)
        case "guardian.relationship":
            return dataclasses.replace(
                submission, guardian=dataclasses.replace(guardian, relationship=value)
            )
    raise AssertionError(path)


RAW_FIELDS = [
    "patient.legal_name",
    "patient.address",
    "patient.emergency_contact.name",
    "health.allergies",
    "signature.typed_name",
    "guardian.relationship",
]


@settings(PROPERTY, max_examples=40)
@given(path=st.sampled_from(RAW_FIELDS), value=st.one_of(texts, markups))
def test_the_renderer_renders_any_text_and_keeps_the_rest(path, value):
    pdf = render_consent(DEFINITION, replaced(VALID, path, value), document_id=DOC_ID)
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) >= 5
    assert f"Page 1 of {len(reader.pages)} · {DOC_ID}" in reader.pages[0].extract_text()
    text = words(pdf_text(pdf))
    for row in OTHER_FIELDS:
        assert row in text
    assert "Signing record" in text and f"Form text SHA-256 {DEFINITION.sha256}" in text


# --- 3. Markup is data --------------------------------------------------------------------------


def objects(pdf: bytes) -> set[str]:
    """The kinds of object the PDF holds beyond text and paths: images, links, actions."""
    reader = PdfReader(io.BytesIO(pdf))
    found = set()
    for page in reader.pages:
        resources = page.get("/Resources") or {}
        if "/XObject" in resources:
            found.add("image")
        if "/Annots" in page:
            found.add("annotation")
    if b"/URI" in pdf or b"/Launch" in pdf or b"/JavaScript" in pdf:
        found.add("action")
    return found


@settings(PROPERTY, max_examples=40)
@given(value=markups)
def test_markup_typed_by_a_patient_prints_as_typed_and_makes_nothing(value):
    data = submission_with("health.allergies", value)
    try:
        pdf = render(data)
    except SubmissionInvalid:
        assert value.strip() == "", value  # only an all-blank answer is refused
        return
    text = words(pdf_text(pdf))
    assert f"Allergies {words(value)} Medications" in text
    assert objects(pdf) == set()
    assert "root:" not in text


# --- Arabic shaping: every letter and mark typed is printed --------------------------------------


@pytest.mark.parametrize(
    "value",
    ["مُحَمَّد عَلِيّ", "عبد الله", "عَبْدُ ٱللَّٰهِ", "لا إله", "שָׁלוֹם"],
    ids=["harakat", "abdullah", "abdullah-with-marks", "lam-alef", "hebrew-points"],
)
def test_right_to_left_text_keeps_every_letter_and_mark(value):
    """The shaper deleted the harakat (Arabic vowel marks) and joined "الله" into a ligature
    DejaVu has no glyph for: "عبد الله" (Abdullah) printed as "عبد" and a missing-glyph box."""
    text = pdf_text(render(submission_with("patient.legal_name", value)))
    expected = baseline("patient.legal_name") - Counter({"Q": 3})
    for _ in range(3):
        expected.update(bag(value))
    assert bag(text) == expected


def test_every_ligature_the_shaper_makes_is_a_glyph_of_the_font():
    from arabic_reshaper.ligatures import LIGATURES

    from intake.pdf.text import RESHAPER

    made = [
        (name, form)
        for name, (_, forms) in LIGATURES
        if RESHAPER.configuration.getboolean(name, fallback=False)
        for form in forms
        if form
    ]
    assert made  # lam-alef at least
    assert [(name, form) for name, form in made if ord(form) not in dejavu()] == []


# --- Characters past U+FFFF that the font has ---------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["𝕊𝕠𝕗𝕚𝕒", "😀😸🙃", "𐌀𐌁𐌂", "Zoë 😀 𝔸"],
    ids=["double-struck", "emoji-in-dejavu", "old-italic", "mixed"],
)
def test_characters_past_u_ffff_the_font_has_come_back(value):
    """reportlab wrote them into the PDF's ToUnicode map as five hex digits ("<1D54A>"), which
    readers reject: drawn, but lost to text extraction."""
    assert all(ord(ch) in dejavu() for ch in value if not ch.isspace())
    text = pdf_text(render(submission_with("health.allergies", value)))
    assert f"Allergies\n{value}\n" in text or f"Allergies {value} " in words(text)
