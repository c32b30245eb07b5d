"""A table of the form's own words, made, measured and drawn once, its operators written after:
the clinician's block's blank lines and their labels ("Clinician name", "Signature", "Date").

reportlab's `Table` builds its cells, measures them and draws its lines on every render. This
table holds no patient's words, so what it draws depends only on the width it is given, the
canvas state it is drawn in and this document's names and codes for its labels' fonts and
characters (`layout_cache._drawn_key`). Its size is kept per width and its operators per such key
(at most `DRAWINGS_KEPT`), with the form's layout (`FormLayout.tables`), so they go with it. A
table drawn where a key cannot be made yet (a font not yet named in this document, a character
not yet coded) is made and drawn by reportlab; so is one that would need a page resource of its
own (a graphics state), and one split across pages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from reportlab.lib.rl_accel import fp_str
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Table

from intake.pdf.layout_cache import DRAWINGS_KEPT, _drawn_key


@dataclass
class KeptDrawing:
    """One table's sizes and drawings, kept with the form's layout."""

    #: (font name, its characters coded per document) for each font the table writes in.
    fonts: tuple[tuple[str, tuple[int, ...]], ...]
    #: The table's own horizontal alignment in the frame.
    h_align: str = "CENTER"
    #: Width given -> the table's size at it.
    sizes: dict[float, tuple[float, float]] = field(default_factory=dict)
    #: `_drawn_key` -> the operators it drew, given that key.
    drawn: dict[tuple[Any, ...], tuple[str, ...]] = field(default_factory=dict)


class KeptTable(Flowable):
    """The table `make` makes, measured and drawn from `kept` when it can be."""

    def __init__(self, kept: KeptDrawing, make: Callable[[], Table]) -> None:
        super().__init__()
        self._kept = kept
        self._make = make
        self._table: Table | None = None
        self._avail = (0.0, 0.0)
        self.hAlign = kept.h_align

    def _made(self) -> Table:
        if self._table is None:
            self._table = self._make()
        return self._table

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:  # noqa: N803
        self._avail = (availWidth, availHeight)
        size = self._kept.sizes.get(availWidth)
        if size is None:
            size = self._kept.sizes.setdefault(availWidth, self._made().wrap(*self._avail))
        self.width, self.height = size
        return size

    def split(self, availWidth: float, availHeight: float) -> list[Flowable]:  # noqa: N803
        return self._made().split(availWidth, availHeight)

    def drawOn(self, canvas: Canvas, x: float, y: float, _sW: float = 0) -> None:  # noqa: N802, N803
        """`Flowable.drawOn` (save the state, move to (x, y), draw, restore): the kept
        operators when the drawing is known, else the table drawn and its operators kept."""
        kept = self._kept
        key = _drawn_key(canvas, self.width, kept.fonts)
        code = None if key is None else kept.drawn.get(key)
        x = self._hAlignAdjust(x, _sW)
        out = canvas._code  # noqa: SLF001 - reportlab's page content
        if code is not None:
            out += ("q", f"{fp_str(1, 0, 0, 1, x, y)} cm", *code, "Q")
            return
        table = self._made()
        table.wrap(*self._avail)
        states = len(canvas._extgstate._c)  # noqa: SLF001 - reportlab's page resources
        canvas.saveState()
        canvas.translate(x, y)
        start = len(out)
        table._drawOn(canvas)  # noqa: SLF001 - reportlab's draw at the origin
        drawn = tuple(out[start:])
        canvas.restoreState()
        if (
            key is not None
            and len(canvas._extgstate._c) == states  # noqa: SLF001
            and len(kept.drawn) < DRAWINGS_KEPT
        ):
            kept.drawn.setdefault(key, drawn)

    def draw(self) -> None:  # pragma: no cover - drawOn draws the table
        pass
