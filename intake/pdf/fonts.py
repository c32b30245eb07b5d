"""Fonts for the consent PDF, every one embedded (subset): DejaVu Sans, and WenQuanYi Micro Hei
for Chinese, Japanese and Korean.

DejaVu Sans covers Latin (Polish, Vietnamese, ...), Greek, Cyrillic, Arabic and Hebrew with real
glyphs that text extraction gives back. WenQuanYi Micro Hei (Debian's fonts-wqy-microhei,
Apache 2.0, `fonts/LICENSE-WenQuanYi.txt`) has the CJK ideographs, kana and every Hangul
syllable in one face: PDF/A wants each font in the file, so the viewer's own CID fonts, which
weigh nothing but are not embedded, cannot be used. Its Han glyphs are drawn in the Chinese
style; a Japanese reader sees the same characters in shapes a Japanese font would draw a little
differently.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from reportlab.lib.fonts import addMapping
from reportlab.pdfbase import pdfmetrics, ttfonts
from reportlab.pdfbase.ttfonts import TTFont

FONT_DIR = Path(__file__).parent / "fonts"

BODY = "DejaVuSans"
BOLD = "DejaVuSans-Bold"

CJK = "WenQuanYiMicroHei"
CJK_FILE = FONT_DIR / "wqy-microhei.ttc"
#: The font per East Asian script: one face has them all.
CHINESE = JAPANESE = KOREAN = CJK


def to_unicode_cmap(fontname: str, subset: list[int]) -> str:
    """reportlab's ToUnicode CMap of a font subset, each character written as UTF-16BE.

    reportlab writes a character past U+FFFF as five hex digits ("<1D54A>"), which PDF readers
    reject: such characters DejaVu has (mathematical letters, Old Italic, some emoji such as
    U+1F642) were drawn but lost to text extraction. The PDF reference wants the surrogate
    pair ("<D835DD4A>").
    """
    utf16 = [chr(code).encode("utf-16-be", "surrogatepass").hex().upper() for code in subset]
    return "\n".join(
        [
            "/CIDInit /ProcSet findresource begin",
            "12 dict begin",
            "begincmap",
            "/CIDSystemInfo",
            f"<< /Registry ({fontname})",
            f"/Ordering ({fontname})",
            "/Supplement 0",
            ">> def",
            f"/CMapName /{fontname} def",
            "/CMapType 2 def",
            "1 begincodespacerange",
            f"<00> <{len(subset) - 1:02X}>",
            "endcodespacerange",
            f"{len(subset)} beginbfchar",
            *(f"<{code:02X}> <{text}>" for code, text in enumerate(utf16)),
            "endbfchar",
            "endcmap",
            "CMapName currentdict /CMap defineresource pop",
            "end",
            "end",
        ]
    )


@cache
def register_fonts() -> None:
    """Register the fonts once per process (parsing the TrueType files is the slow part), and
    have reportlab write their ToUnicode maps with `to_unicode_cmap`."""
    ttfonts.makeToUnicodeCMap = to_unicode_cmap
    pdfmetrics.registerFont(TTFont(BODY, FONT_DIR / "DejaVuSans.ttf"))
    pdfmetrics.registerFont(TTFont(BOLD, FONT_DIR / "DejaVuSans-Bold.ttf"))
    addMapping(BODY, 0, 0, BODY)
    addMapping(BODY, 1, 0, BOLD)
    addMapping(BODY, 0, 1, BODY)
    addMapping(BODY, 1, 1, BOLD)
    pdfmetrics.registerFont(TTFont(CJK, CJK_FILE, subfontIndex=0))
