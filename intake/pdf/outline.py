"""Words drawn as glyph outlines: seen on the page, yet no part of its text.

The preview mark across a page must not break a patient's answer that runs on from one page to
the next when the PDF's text is read back (search, copy, accessibility), so it is drawn as
shapes; the footer carries the same words as text.
"""

from __future__ import annotations

import gc
from functools import cache
from pathlib import Path

from fontTools.pens.basePen import BasePen
from fontTools.ttLib import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.pdfgen.pathobject import PDFPathObject

#: A path as the calls that draw it: ("moveTo", (x, y)), ("curveTo", (x1, y1, ...)), ...
PathOps = tuple[tuple[str, tuple[float, ...]], ...]


class _RecordingPen(BasePen):
    """A fontTools pen that records a glyph's outline, scaled and moved along the line, to a
    hundredth of a point."""

    def __init__(self, glyphs, ops: list, scale: float, x: float) -> None:  # noqa: ANN001
        super().__init__(glyphs)
        self.ops, self.scale, self.x = ops, scale, x

    def _point(self, *points: tuple[float, float]) -> tuple[float, ...]:
        return tuple(
            round(v, 2) for p in points for v in (self.x + p[0] * self.scale, p[1] * self.scale)
        )

    def _moveTo(self, pt):  # noqa: ANN001, ANN202, N802 - fontTools' names
        self.ops.append(("moveTo", self._point(pt)))

    def _lineTo(self, pt):  # noqa: ANN001, ANN202, N802
        self.ops.append(("lineTo", self._point(pt)))

    def _curveToOne(self, pt1, pt2, pt3):  # noqa: ANN001, ANN202, N802
        self.ops.append(("curveTo", self._point(pt1, pt2, pt3)))

    def _closePath(self):  # noqa: ANN202, N802
        self.ops.append(("close", ()))


@cache
def outline(text: str, font_file: Path, size: float) -> tuple[PathOps, float]:
    """The outline of `text` set in the font at `size`, its baseline from (0, 0), and its width.

    The font's tables (some 8 MB of objects for DejaVu Sans Bold, held in reference cycles) are
    collected before returning: made once per process, they would otherwise stay until the
    collector next ran, adding to the peak of the worker's first render."""
    with TTFont(str(font_file), lazy=True) as font:
        glyphs = font.getGlyphSet()
        cmap, metrics = font.getBestCmap(), font["hmtx"]
        scale = size / font["head"].unitsPerEm
        ops: list[tuple[str, tuple[float, ...]]] = []
        advance = 0.0
        for char in text:
            name = cmap.get(ord(char), ".notdef")
            glyphs[name].draw(_RecordingPen(glyphs, ops, scale, advance))
            advance += metrics[name][0] * scale
    del font, glyphs, cmap, metrics
    gc.collect()
    return tuple(ops), advance


@cache
def outline_code(text: str, font_file: Path, size: float) -> tuple[str, float]:
    """The page-content operators that draw `outline` (reportlab's, as `drawPath` writes them),
    made once per process: formatting every point's numbers is most of drawing it."""
    ops, width = outline(text, font_file, size)
    path = PDFPathObject()
    for name, args in ops:
        getattr(path, name)(*args)
    return str(path.getCode()), width


def draw_outlined_centred(
    canvas: Canvas, text: str, font_file: Path, size: float, x: float, y: float
) -> None:
    """Fill `text` as outlines, centred on (x, y) along its baseline, in the current colour."""
    code, width = outline_code(text, font_file, size)
    canvas.saveState()
    canvas.translate(x - width / 2, y)
    # What canvas.drawPath(path, stroke=0, fill=1, fillMode=1) writes, the path made once.
    canvas._code.append(code)  # noqa: SLF001 - reportlab's page content
    canvas._strokeAndFill(0, 1, 1)  # noqa: SLF001
    canvas.restoreState()
