"""A few flowables kept on one page, as one flowable: a signature with its heading and rows.

reportlab's `KeepTogether` measures its content with a copy of the frame, then hands the pieces
back to the frame one by one (and its bookkeeping flowables with them). `Together` measures
them once and draws them itself where the frame would have put them, one under another with the
frame's spacing (a flowable's space before overlaps the one's space after above it). What does
not fit on what is left of a page goes whole to the next; what does not fit on a whole page flows
on piece by piece, as `KeepTogether` does.
"""

from __future__ import annotations

from reportlab import rl_config
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, KeepTogether


class Together(KeepTogether):
    """`KeepTogether`'s content, measured once and drawn as one flowable."""

    def __init__(
        self,
        content: list[Flowable],
        sizes: tuple[float, list[tuple[float, float]]] | None = None,
    ) -> None:
        super().__init__(content)
        self._placed: list[tuple[Flowable, float, float]] = []
        #: (the width they were wrapped to, each piece's size then): pieces wrapped already.
        self._sizes = sizes

    def getSpaceBefore(self) -> float:  # noqa: N802 - reportlab's name
        return self._content[0].getSpaceBefore()

    def getSpaceAfter(self) -> float:  # noqa: N802 - reportlab's name
        return self._content[-1].getSpaceAfter()

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:  # noqa: N803
        """The content's height, laid one under another as a frame lays it (not at its top):
        each piece's space before, less the space after the piece above it. A piece is wrapped
        once at a width (`sizes`)."""
        overlap = rl_config.overlapAttachedSpace
        known = self._sizes[1] if self._sizes and self._sizes[0] == availWidth else None
        y, after, placed, sizes, width = 0.0, 0.0, [], [], 0.0
        for n, piece in enumerate(self._content):
            if n:
                before = piece.getSpaceBefore()
                y += max(before - after, 0) if overlap else before
            w, h = known[n] if known else piece.wrap(availWidth, availHeight)
            sizes.append((w, h))
            width = max(width, w)
            placed.append((piece, y + h, w))
            y += h
            after = piece.getSpaceAfter()
            if n < len(self._content) - 1:
                y += after
        self._placed = placed
        self._sizes = (availWidth, sizes)
        self.width, self.height = width, y
        return width, y

    def split(self, availWidth: float, availHeight: float) -> list[Flowable]:  # noqa: N803
        """Nothing on a page part used (it goes whole to the next); its pieces, to flow on,
        on a page too short for it."""
        frame = getattr(self, "_frame", None)
        if frame is not None and frame._atTop:  # noqa: SLF001 - reportlab's frame
            return list(self._content)
        return []

    def drawOn(self, canvas: Canvas, x: float, y: float, _sW: float = 0) -> None:  # noqa: N802, N803
        """Each piece where the frame would have drawn it: from the top down, aligned in the
        frame's width (`_sW` is what it leaves beside this flowable)."""
        available = self.width + _sW
        top = y + self.height
        for piece, bottom, width in self._placed:
            piece.drawOn(canvas, x, top - bottom, _sW=available - width)

    def draw(self) -> None:  # pragma: no cover - drawOn draws the pieces
        pass


#: How far a flowable may pass the frame's bottom and still fit: reportlab's frame's own margin.
_FUZZ = rl_config._FUZZ


class Run(Together):
    """Flowables that follow one another (rows of a table of details, an answer's lines), drawn
    as one flowable while they fit: on a page that ends among them, the ones that fit whole are
    drawn as one, and the rest flow on one by one (a row split across the page as reportlab
    splits it). For a few flowables: the rest are wrapped again, one by one."""

    def split(self, availWidth: float, availHeight: float) -> list[Flowable]:  # noqa: N803
        if not self._sizes or self._sizes[0] != availWidth:
            self.wrap(availWidth, availHeight)
        fit = 0
        for n, (_piece, bottom, _width) in enumerate(self._placed):
            if bottom > availHeight + _FUZZ:
                break
            fit = n + 1
        content, (width, sizes) = self._content, self._sizes
        # Asked to split, it did not fit whole: the last piece at least goes on by itself.
        fit = min(fit, len(content) - 1)
        head = [Run(content[:fit], (width, sizes[:fit]))] if fit else []
        return [*head, *content[fit:]]
