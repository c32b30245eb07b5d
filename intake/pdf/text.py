"""The one way patient and form text enters a reportlab Paragraph: escaped, never markup."""

from __future__ import annotations

import re
import threading
import weakref
from string import Formatter
from typing import Any
from xml.sax.saxutils import escape

import arabic_reshaper
from bidi import get_display
from reportlab.lib.rl_accel import fp_str
from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import Paragraph
from reportlab.platypus.paragraph import cleanBlockQuotedText

from intake.pdf.bullets import draw_keeping_bullet
from intake.pdf.fonts import CHINESE, JAPANESE, KOREAN, register_cjk

_HANGUL = r"\u1100-\u11ff\u3130-\u318f\uac00-\ud7af"
_KANA = r"\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f"
_HAN = r"\u2e80-\u2fdf\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uff65"
_CJK_RUN = re.compile(f"[{_HANGUL}{_KANA}{_HAN}]+")
_HAS_HANGUL = re.compile(f"[{_HANGUL}]")
_HAS_KANA = re.compile(f"[{_KANA}]")
_RTL = re.compile(r"[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufeff]")

#: Arabic shaping as the PDF needs it. The vowel marks (harakat) a patient types are kept: the
#: shaper's default deletes them ("مُحَمَّد" printed "محمد"). And no ligature the body font has
#: no glyph for: its default ALLAH ligature (U+FDF2) printed "عبد الله" as "عبد" and a box.
RESHAPER = arabic_reshaper.ArabicReshaper(
    configuration={"delete_harakat": False, "arabic ligature allah": False}
)


def _cjk_font(run: str, whole: str) -> str:
    if _HAS_HANGUL.search(run):
        return KOREAN
    if _HAS_KANA.search(whole):
        return JAPANESE
    return CHINESE


def visual_order(line: str) -> str:
    """Arabic and Hebrew as PDF text is stored: joined letter forms, in left-to-right order.

    reportlab writes characters in the order given, so right-to-left text is shaped and
    reordered here; text extraction reads it back in logical order.
    """
    return get_display(RESHAPER.reshape(line))


def pdf_text(value: str) -> str:
    """Paragraph markup that prints `value` literally, line breaks kept, CJK in a CJK font.

    `<b>`, `&amp;` or `<img src=...>` typed by a patient print as those characters; nothing a
    patient types can change the layout or make reportlab read a file.
    """
    value = value.replace("\r\n", "\n")
    if _RTL.search(value):
        value = "\n".join(visual_order(line) for line in value.split("\n"))
    escaped = escape(value)
    if _CJK_RUN.search(escaped):
        register_cjk()
        escaped = _CJK_RUN.sub(
            lambda m: f'<font name="{_cjk_font(m.group(), value)}">{m.group()}</font>', escaped
        )
    return escaped.replace("\n", "<br/>")


def pdf_template(template: str, **values: str) -> str:
    """Markup for `template`, the app's own words read left to right, with each value in it
    made by `pdf_text` on its own, as HTML's `<bdi>` isolates a value.

    A right-to-left value is reordered within itself and cannot reorder the words and numbers
    around it: reordered as one line, an Arabic emergency contact's name turned the phone
    number after it into "2001 010 555 1+", and "Signed for <name>, a minor, as <mother>" into
    "<mother> a minor, as ,<name>".
    """
    parts = []
    for literal, name, _spec, _conversion in Formatter().parse(template):
        parts.append(pdf_text(literal))
        if name is not None:
            parts.append(pdf_text(values[name]))
    return "".join(parts)


#: What `pdf_text` turns into markup (escapes, line breaks, a CJK font) or reorders.
_NOT_PLAIN = re.compile(f"[&<>\r\n{_HANGUL}{_KANA}{_HAN}]|{_RTL.pattern}")
_prototypes: weakref.WeakKeyDictionary[ParagraphStyle, Any] = weakref.WeakKeyDictionary()
_prototypes_lock = threading.Lock()


class PlainParagraph(Paragraph):
    """A paragraph of escaped text, which has no link: `Flowable.drawOn`'s operators (save,
    move to (x, y), draw, restore), written without reportlab's copies of the canvas state
    around them, which only a link's position would read (its drawing saves and restores the
    state it changes itself). Its bullet, a label, is written from kept operators
    (`bullets.py`)."""

    def drawOn(self, canvas: Any, x: float, y: float, _sW: float = 0) -> None:  # noqa: N802, N803
        if getattr(self, "_showBoundary", None):
            super().drawOn(canvas, x, y, _sW)
            return
        x = self._hAlignAdjust(x, _sW)
        code = canvas._code  # noqa: SLF001 - reportlab's page content
        code.append("q")
        code.append(f"{fp_str(1, 0, 0, 1, x, y)} cm")
        draw_keeping_bullet(self, canvas)
        code.append("Q")


def plain_paragraph(value: str, style: ParagraphStyle, bullet: str | None = None) -> Paragraph:
    """`Paragraph(pdf_text(value), style, bulletText=bullet)`, without parsing markup when
    `value` is plain text (no character `pdf_text` would escape, break, reorder or give a CJK
    font): its one fragment is the style's, holding the text as reportlab's parser cleans it.
    Only the style's fragment is kept, never the text."""
    cleaned = None if _NOT_PLAIN.search(value) else cleanBlockQuotedText(value)
    if not cleaned:
        return PlainParagraph(pdf_text(value), style, bulletText=bullet)
    prototype = _prototypes.get(style)
    if prototype is None:
        (prototype,) = Paragraph("x", style).frags
        with _prototypes_lock:
            prototype = _prototypes.setdefault(style, prototype)
    # `copy.copy(prototype)` without copy's protocol: a new fragment with the same attributes,
    # and its own lists (the links and underlines a fragment carries), as the parser makes them.
    attributes = vars(prototype)
    frag = object.__new__(type(prototype))
    frag.__dict__.update(attributes)
    for name, attribute in attributes.items():
        if isinstance(attribute, list):
            frag.__dict__[name] = list(attribute)
    frag.text = cleaned
    return PlainParagraph(cleaned, style, bulletText=bullet, frags=[frag])
