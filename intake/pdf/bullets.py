"""A plain paragraph's bullet (a row's label: "Legal name", "Signed") written from the operators
it drew before, instead of a new text object each time.

reportlab draws a paragraph's bullet with the module function `paragraph._drawBullet`: a text
object moved to the bullet's place, its font and colour set, its text coded and written. Its
operators depend only on the bullet's text, its place, the style's bullet font, size, colour and
indents, and this document's name for the font and codes for its characters. With all of these
the same, the operators and the offset it returns are the same, so they are kept (at most
`BULLETS_KEPT`) and written again.

Only the bullets of `PlainParagraph` (text.py) are kept, which draws them with
`draw_keeping_bullet`: their text is the app's own labels, never a patient's words. Any other
paragraph's bullet is drawn by reportlab as before. A bullet whose font is not yet named in
this document, or whose characters are not yet coded, is drawn for real (which names and codes
them) and kept the next time.
"""

from __future__ import annotations

from typing import Any

from reportlab.lib.colors import Color
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import paragraph

#: The most bullets kept per process: labels times places times fonts' codes.
BULLETS_KEPT = 512

_draw_bullet = paragraph._drawBullet  # noqa: SLF001 - reportlab's own bullet drawing
#: Key (`_key`) -> (the operators written, the offset returned).
_kept: dict[tuple[Any, ...], tuple[str, float]] = {}
#: Set on a canvas while a `PlainParagraph` draws on it.
_FLAG = "_intake_kept_bullets"


def draw_keeping_bullet(flowable: Any, canvas: Any) -> None:
    """`flowable._drawOn(canvas)`, its bullet written from kept operators when they are
    known (for `PlainParagraph` only: its bullet is a label)."""
    state = canvas.__dict__
    state[_FLAG] = True
    try:
        flowable._drawOn(canvas)  # noqa: SLF001 - reportlab's draw at the origin
    finally:
        del state[_FLAG]


def _key(canvas: Any, offset: float, cur_y: float, text: Any, style: Any, rtl: Any):
    """What the bullet's operators depend on, or None when they cannot be kept."""
    if rtl or not isinstance(text, str) or getattr(canvas, "_enforceColorSpace", None):
        return None
    font = pdfmetrics.getFont(style.bulletFontName)
    if not isinstance(font, TTFont) or not font._dynamicFont:  # noqa: SLF001
        return None
    color = getattr(style, "bulletColor", style.textColor)
    if type(color) is not Color:
        return None
    state = font.state.get(canvas._doc)  # noqa: SLF001 - reportlab's document
    if state is None or state.internalName is None:
        return None
    assigned = state.assignments
    codes = tuple(assigned.get(ord(c)) for c in text)
    if None in codes:
        return None
    return (
        text,
        offset,
        cur_y,
        style.bulletFontName,
        style.bulletFontSize,
        style.bulletIndent,
        getattr(style, "bulletOffsetY", 0),
        style.bulletAnchor,
        style.leftIndent,
        color.rgba(),
        canvas.bottomup,
        state.internalName,
        codes,
    )


def _drawBullet(canvas: Any, offset: float, cur_y: float, text: Any, style: Any, rtl: Any):  # noqa: N802
    """`paragraph._drawBullet`, from kept operators inside `kept_bullets`."""
    if not canvas.__dict__.get(_FLAG):
        return _draw_bullet(canvas, offset, cur_y, text, style, rtl)
    key = _key(canvas, offset, cur_y, text, style, rtl)
    kept = None if key is None else _kept.get(key)
    if kept is not None:
        canvas._code.append(kept[0])  # noqa: SLF001 - reportlab's page content
        return kept[1]
    code = canvas._code  # noqa: SLF001
    start = len(code)
    result = _draw_bullet(canvas, offset, cur_y, text, style, rtl)
    # One text object, one operator string: what `canvas.drawText` appends.
    if key is not None and len(code) == start + 1 and len(_kept) < BULLETS_KEPT:
        _kept.setdefault(key, (code[start], result))
    return result


def forget_bullets() -> None:
    """Drop every kept bullet (a fresh process's state)."""
    _kept.clear()


paragraph._drawBullet = _drawBullet  # noqa: SLF001
