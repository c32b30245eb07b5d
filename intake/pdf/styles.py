"""The consent PDF's paragraph styles and colours (reportlab), kept apart from the layout."""

from __future__ import annotations

from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import inch

from intake.pdf.fonts import BODY, BOLD

ACCENT = colors.HexColor("#0b5394")
FLAG_FILL = colors.HexColor("#fde9d9")
FLAG_INK = colors.HexColor("#8a1c00")
RULE = colors.HexColor("#999999")
TIER_COLORS = {
    "mild": colors.HexColor("#6a6a6a"),
    "serious": colors.HexColor("#b45f06"),
    "severe": colors.HexColor("#a61c00"),
}

LABEL_WIDTH = 1.75 * inch


def consent_styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle(
        "body", fontName=BODY, bulletFontName=BODY, fontSize=9.5, leading=13, alignment=TA_LEFT
    )
    h2 = ParagraphStyle(
        "h2",
        base,
        fontName=BOLD,
        fontSize=11.5,
        leading=15,
        spaceBefore=10,
        spaceAfter=3,
        textColor=ACCENT,
    )
    # A label in the left gutter (reportlab's bullet), the value wrapping in the right column:
    # a two-column row that, unlike a table row, can split across pages.
    row = ParagraphStyle(
        "row",
        base,
        leftIndent=LABEL_WIDTH,
        bulletIndent=0,
        bulletFontName=BOLD,
        bulletFontSize=8.5,
        spaceBefore=1.5,
        spaceAfter=1.5,
    )
    return {
        "body": base,
        "small": ParagraphStyle("small", base, fontSize=8, leading=10.5),
        "clinic": ParagraphStyle("clinic", base, fontName=BOLD, fontSize=13, textColor=ACCENT),
        "title": ParagraphStyle(
            "title", base, fontName=BOLD, fontSize=15, leading=19, spaceBefore=6, spaceAfter=4
        ),
        "h2": h2,
        **{tier: ParagraphStyle(f"h2-{tier}", h2, textColor=c) for tier, c in TIER_COLORS.items()},
        "label": ParagraphStyle("label", base, fontName=BOLD, fontSize=8.5, leading=11),
        "para": ParagraphStyle("para", base, spaceAfter=4),
        "answer": ParagraphStyle("answer", base, spaceAfter=6, leftIndent=8),
        "answer-line": ParagraphStyle("answer-line", base, leftIndent=8),
        "item": ParagraphStyle("item", base, leftIndent=16, bulletIndent=5, spaceAfter=1.5),
        "ack": ParagraphStyle("ack", base, leftIndent=16, bulletIndent=0, spaceAfter=4),
        "row": row,
        # Small enough for a SHA-256 in hex to stay on one line.
        "record": ParagraphStyle("record", row, fontSize=8.5, leading=11.5),
        # A tier's most prominent line (severe: "Call 911 immediately."): larger than anything
        # else in its section, in the tier's colour, boxed.
        "headline": ParagraphStyle(
            "headline",
            base,
            fontName=BOLD,
            fontSize=15,
            leading=19,
            textColor=TIER_COLORS["severe"],
            borderColor=TIER_COLORS["severe"],
            borderWidth=1.5,
            borderPadding=5,
            spaceBefore=6,
            spaceAfter=8,
        ),
        "clinic-phone": ParagraphStyle("clinic-phone", base, fontName=BOLD, spaceAfter=4),
        "typed-signature": ParagraphStyle(
            "typed-signature", base, fontSize=16, leading=22, spaceBefore=4, spaceAfter=2
        ),
        "flag-row": ParagraphStyle("flag-row", row, backColor=FLAG_FILL, textColor=FLAG_INK),
        "flag-box": ParagraphStyle(
            "flag-box",
            base,
            fontName=BOLD,
            textColor=FLAG_INK,
            backColor=FLAG_FILL,
            borderColor=FLAG_INK,
            borderWidth=1,
            borderPadding=5,
            spaceBefore=8,
            spaceAfter=8,
        ),
    }
