"""The drawn signature as a Platypus flowable: vector paths from the pad's strokes."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from reportlab.lib import colors
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable

from intake.submission import SignaturePad

INK = colors.HexColor("#0b2a5b")


Point = tuple[float, float]


def catmull_rom(points: Sequence[Point]) -> Iterator[tuple[Point, Point, Point]]:
    """The cubic Béziers of a Catmull-Rom spline through `points`, from the first point on:
    each segment's two control points and its end."""
    for i in range(len(points) - 1):
        p0 = points[i - 1] if i > 0 else points[i]
        p1, p2 = points[i], points[i + 1]
        p3 = points[i + 2] if i + 2 < len(points) else p2
        c1 = (p1[0] + (p2[0] - p0[0]) / 6, p1[1] + (p2[1] - p0[1]) / 6)
        c2 = (p2[0] - (p3[0] - p1[0]) / 6, p2[1] - (p3[1] - p1[1]) / 6)
        yield c1, c2, p2


def svg_path(points: Sequence[Point]) -> str:
    """One pen stroke as SVG path data in pad coordinates: the same Catmull-Rom spline as the
    PDF and the pad draw (a tap is a dot, two points a line)."""

    def xy(point: Point) -> str:
        return f"{round(point[0], 2):g} {round(point[1], 2):g}"

    if len(points) == 1:
        x, y = points[0]
        return f"M {xy((x, y))} L {xy((x + 0.01, y))}"
    if len(points) == 2:
        return f"M {xy(points[0])} L {xy(points[1])}"
    curves = " ".join(f"C {xy(c1)} {xy(c2)} {xy(end)}" for c1, c2, end in catmull_rom(points))
    return f"M {xy(points[0])} {curves}"


def smooth_path(canvas: Canvas, points: tuple[tuple[float, float], ...], to_page) -> None:
    """Stroke one pen stroke as a Catmull-Rom spline through its points, as cubic Béziers."""
    page = [to_page(x, y) for x, y in points]
    path = canvas.beginPath()
    path.moveTo(*page[0])
    if len(page) == 1:
        # A tap: a dot of the pen's width.
        path.lineTo(page[0][0] + 0.01, page[0][1])
    elif len(page) == 2:
        path.lineTo(*page[1])
    else:
        for c1, c2, end in catmull_rom(page):
            path.curveTo(*c1, *c2, *end)
    canvas.drawPath(path, stroke=1, fill=0)


class SignatureDrawing(Flowable):
    """A signature scaled into a box of `width` x `height` points, aspect kept, on a sign line."""

    def __init__(self, pad: SignaturePad, width: float, height: float) -> None:
        super().__init__()
        self.pad = pad
        self.width = width
        self.height = height

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        self.width = min(self.width, avail_width)
        return self.width, self.height

    def draw(self) -> None:
        c = self.canv
        pad = self.pad
        scale = min(self.width / pad.width, self.height / pad.height)
        x0 = (self.width - pad.width * scale) / 2
        y0 = (self.height - pad.height * scale) / 2

        def to_page(x: float, y: float) -> tuple[float, float]:
            # The pad's origin is top left with y downwards; the page's is bottom left.
            return x0 + x * scale, y0 + (pad.height - y) * scale

        c.saveState()
        c.setStrokeColor(colors.grey)
        c.setLineWidth(0.5)
        c.line(0, 2, self.width, 2)
        c.setStrokeColor(INK)
        c.setLineWidth(max(1.0, 2.2 * scale))
        c.setLineCap(1)
        c.setLineJoin(1)
        for stroke in pad.strokes:
            smooth_path(c, stroke, to_page)
        c.restoreState()
