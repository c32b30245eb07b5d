"""Fonts for the consent PDF: DejaVu Sans (embedded, subset) and reportlab's CID fonts for CJK.

DejaVu Sans covers Latin (Polish, Vietnamese, ...), Greek, Cyrillic, Arabic and Hebrew with real
glyphs that text extraction gives back. Chinese, Japanese and Korean use Adobe's standard CID
fonts, which every PDF viewer supplies, so they add nothing to the file size.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from reportlab.lib.fonts import addMapping
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont

FONT_DIR = Path(__file__).parent / "fonts"

BODY = "DejaVuSans"
BOLD = "DejaVuSans-Bold"

#: CID font per East Asian script.
CHINESE = "STSong-Light"
JAPANESE = "HeiseiMin-W3"
KOREAN = "HYSMyeongJo-Medium"


@cache
def register_fonts() -> None:
    """Register the fonts once per process (parsing the TrueType files is the slow part)."""
    pdfmetrics.registerFont(TTFont(BODY, FONT_DIR / "DejaVuSans.ttf"))
    pdfmetrics.registerFont(TTFont(BOLD, FONT_DIR / "DejaVuSans-Bold.ttf"))
    addMapping(BODY, 0, 0, BODY)
    addMapping(BODY, 1, 0, BOLD)
    addMapping(BODY, 0, 1, BODY)
    addMapping(BODY, 1, 1, BOLD)
    for name in (CHINESE, JAPANESE, KOREAN):
        pdfmetrics.registerFont(UnicodeCIDFont(name))
