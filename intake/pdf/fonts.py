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

import threading
from collections import OrderedDict
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from reportlab import rl_config
from reportlab.lib.fonts import addMapping
from reportlab.pdfbase import pdfdoc, pdfmetrics, ttfonts
from reportlab.pdfbase.pdfdoc import PDFStreamFilterZCompress
from reportlab.pdfbase.ttfonts import TTFont, TTFontFace

FONT_DIR = Path(__file__).parent / "fonts"

BODY = "DejaVuSans"
BOLD = "DejaVuSans-Bold"

CJK = "WenQuanYiMicroHei"
CJK_FILE = FONT_DIR / "wqy-microhei.ttc"
#: The font per East Asian script: one face has them all.
CHINESE = JAPANESE = KOREAN = CJK


def kept_to_unicode_cmap(fontname: str, subset: list[int]) -> str:
    """`to_unicode_cmap`, made once per process for the same subset (`SUBSETS_KEPT` kept)."""
    return _kept_cmap(fontname, tuple(subset))


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


#: How many embedded font subsets (each a few tens of kB, compressed) one process keeps.
SUBSETS_KEPT = 32


@lru_cache(maxsize=SUBSETS_KEPT)
def _kept_cmap(fontname: str, subset: tuple[int, ...]) -> str:
    return to_unicode_cmap(fontname, list(subset))


class _KeptFlate(PDFStreamFilterZCompress):
    """reportlab's Flate filter, keeping what it made of the last `SUBSETS_KEPT` inputs: a font
    subset is the same bytes in every consent that uses the same characters."""

    def __init__(self) -> None:
        self._kept: OrderedDict[bytes, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def encode(self, text: bytes | str) -> bytes:
        data = text.encode("utf8") if isinstance(text, str) else text
        with self._lock:
            if data in self._kept:
                self._kept.move_to_end(data)
                return self._kept[data]
        encoded = super().encode(data)
        with self._lock:
            self._kept[data] = encoded
            while len(self._kept) > SUBSETS_KEPT:
                self._kept.popitem(last=False)
        return encoded


_KEPT_FLATE = _KeptFlate()


class _SubsetFace(TTFontFace):
    """A TrueType face that makes each subset (the glyphs of a list of characters) once per
    process, the same bytes each time, and compresses it once (`_KeptFlate`)."""

    @lru_cache(maxsize=SUBSETS_KEPT)  # noqa: B019 - one face per font, kept for the process
    def _subset(self, subset: tuple[int, ...]) -> bytes:
        return TTFontFace.makeSubset(self, list(subset))

    def makeSubset(self, subset: list[int]) -> bytes:  # noqa: N802 - reportlab's name
        return self._subset(tuple(subset))

    def addSubsetObjects(self, doc, fontname, subset):  # noqa: ANN001, ANN201, N802, N803
        reference = super().addSubsetObjects(doc, fontname, subset)
        # The font file, and its ToUnicode map (made just before), compressed once.
        for name in (f"fontFile:{self.filename}({fontname})", f"toUnicodeCMap:{fontname}"):
            stream = doc.idToObject.get(name)
            if stream is not None and stream.filters:
                stream.filters = [_KEPT_FLATE]
        return reference


class _Formatted(pdfdoc.PDFObject):
    """A PDF array of numbers, formatted once: it reads the same in every document."""

    def __init__(self, numbers: tuple[float, ...]) -> None:
        self._bytes = pdfdoc.format(pdfdoc.PDFArray(numbers), None)

    def format(self, document: Any) -> bytes:
        return self._bytes


@lru_cache(maxsize=SUBSETS_KEPT)
def _widths(numbers: tuple[float, ...]) -> _Formatted:
    return _Formatted(numbers)


class _KeptFont(TTFont):
    """A TrueType font whose subsets' glyph widths are formatted once for the same glyphs, and
    whose printable ASCII text is coded without a loop over its characters."""

    def splitString(self, text: Any, doc: Any, encoding: str = "utf-8") -> list[Any]:  # noqa: N802
        """reportlab's `splitString`: its result at once for text of printable ASCII, which
        a document's state codes from the start as itself (`State`, asciiReadable)."""
        if (
            isinstance(text, str)
            and text
            and text.isascii()
            and " " <= min(text)
            and max(text) <= "~"
            and self._ascii_as_itself
            and doc in self.state
        ):
            return [(0, text.encode("ascii"))]
        return super().splitString(text, doc, encoding)

    @property
    def _ascii_as_itself(self) -> bool:
        """Whether every document codes each printable ASCII character as itself: the font
        is asciiReadable and has a glyph for each."""
        known = self.__dict__.get("_ascii_known")
        if known is None:
            glyphs = self.face.charToGlyph
            readable = self._asciiReadable
            if readable is None:
                readable = rl_config.ttfAsciiReadable
            known = bool(readable) and all(code in glyphs for code in range(32, 127))
            self.__dict__["_ascii_known"] = known
        return known

    def addObjects(self, doc: Any) -> None:  # noqa: N802 - reportlab's name
        state = self.state.get(doc)
        count = 0 if state is None else len(state.subsets)
        # reportlab drops the document's state of the font as it adds its objects.
        names = [self.getSubsetInternalName(n, doc)[1:] for n in range(count)]
        super().addObjects(doc)
        fonts = doc.idToObject["BasicFonts"].dict
        for name in names:
            pdf_font = fonts.get(name)
            widths = getattr(pdf_font, "Widths", None)
            if isinstance(widths, pdfdoc.PDFArray):
                pdf_font.Widths = _widths(tuple(widths.sequence))


def _font(name: str, path: Path, subfont: int = 0) -> TTFont:
    font = TTFont(name, path, subfontIndex=subfont)
    font.__class__ = _KeptFont
    font.face.__class__ = _SubsetFace
    return font


@cache
def register_fonts() -> None:
    """Register the fonts once per process (parsing the TrueType files is the slow part), and
    have reportlab write their ToUnicode maps with `to_unicode_cmap` (`kept_to_unicode_cmap`).
    The CJK face is registered by `register_cjk`, when a text first needs it."""
    ttfonts.makeToUnicodeCMap = kept_to_unicode_cmap
    pdfmetrics.registerFont(_font(BODY, FONT_DIR / "DejaVuSans.ttf"))
    pdfmetrics.registerFont(_font(BOLD, FONT_DIR / "DejaVuSans-Bold.ttf"))
    addMapping(BODY, 0, 0, BODY)
    addMapping(BODY, 1, 0, BOLD)
    addMapping(BODY, 0, 1, BODY)
    addMapping(BODY, 1, 1, BOLD)


_CJK_LOCK = threading.Lock()


def register_cjk() -> None:
    """Register the CJK face once per process, the first time a text has CJK characters in it
    (`text.pdf_text`): its 30,000 glyphs' tables take some 22 MB, which a process that only
    ever prints other scripts never holds."""
    if CJK in pdfmetrics.getRegisteredFontNames():
        return
    with _CJK_LOCK:
        if CJK not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(_font(CJK, CJK_FILE, subfont=0))


def forget_subsets() -> None:
    """Drop every font subset kept: the next render makes and compresses its own again."""
    _SubsetFace._subset.cache_clear()  # noqa: SLF001
    _kept_cmap.cache_clear()
    _widths.cache_clear()
    with _KEPT_FLATE._lock:  # noqa: SLF001
        _KEPT_FLATE._kept.clear()  # noqa: SLF001
