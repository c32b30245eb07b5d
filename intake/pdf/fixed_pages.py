"""The pages of the form's fixed text laid out once and replayed in every consent.

The consent text (the form's sections), the side effects with their tiers and the
acknowledgments (each one ticked in a submission that validates) are the same for every patient
of a form text, language, page size and clinic settings (the clinic's phone is in the side
effects' "Call ..." lines). They start on a page of their own, so their pages come out the same
in every consent: `fixed_pages` lays them out once, in a document of their own, and keeps each
page's content operators; a consent then writes those operators as they are (`ReplayedPage`),
one flowable a page, instead of laying out and drawing some seventy paragraphs. The last page is
as tall as the text on it, so the patient's signature flows on below it. What differs between
documents on those pages is drawn per document as on any other page: the footer ("Page x of N",
the document id) and a preview's mark.

The operators name fonts and character codes, which reportlab gives out per document in order of
first use (F1, F2, ... and, for a TrueType font, codes for the characters past ASCII). So every
consent begins by naming the fixed pages' fonts and coding their characters in the very order
the fixed pages' own document met them (`FixedPages.prelude`): in every document, cold or warm,
the fixed pages' names and codes are the same whatever the patient typed, and the patient's own
characters come after.

- Keyed: form text (`ConsentDefinition.sha256`), language, page size, the clinic's address and
  phone, and the acknowledgments ticked. A different one never reuses another's pages.
- Bounded: kept with the form's layout (`layout_cache.py`, itself bounded), at most
  `PAGES_KEPT` clinic settings a layout, the least recently used dropped; dropped with it.
- Thread-safe: a set is made under a lock, then only read.
- No patient words: the fixed pages are laid out from the form and the clinic's settings only.
- The same bytes: a consent replays what a fresh process lays out, so cold = warm.
"""

from __future__ import annotations

import io
import threading
import zlib
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from reportlab.pdfbase import pdfdoc, pdfmetrics
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, SimpleDocTemplate

if TYPE_CHECKING:
    from intake.pdf.layout_cache import FormLayout

#: How many sets of fixed pages (one per clinic settings) a form layout keeps (`FormLayout`).
PAGES_KEPT = 4


@dataclass(frozen=True)
class FixedPages:
    """The fixed text's pages: each page's content operators; how far down its last page the
    text goes (and the space after it), so what follows flows on below it; and the fonts the
    pages use, each with the characters coded per document, in the order first met."""

    pages: tuple[tuple[str, ...], ...]
    last_height: float
    last_space_after: float
    fonts: tuple[tuple[str, str], ...]
    #: (page, the document's page preamble) -> that page's content compressed as far as its
    #: own operators go (`_KeptFlate`).
    _flates: dict[tuple[int, str], _KeptFlate] = field(default_factory=dict, compare=False)

    def content_stream(self, number: int, page: Any) -> None:
        """Give reportlab's `page`, the fixed text's page `number` with this document's footer
        drawn on it, a content stream whose compression of the fixed operators is made once."""
        preamble = page.stream.split("\n", 1)[0]
        head = "\n".join((preamble, *self.pages[number])) + "\n"
        flate = self._flates.get((number, preamble))
        if flate is None:
            flate = self._flates.setdefault((number, preamble), _KeptFlate(head.encode("utf8")))
        stream = pdfdoc.PDFStream(content=page.stream, filters=[flate])
        stream.__Comment__ = "page stream"
        page.Contents = stream

    def prelude(self, canvas: Canvas) -> None:
        """Name this document's fonts and code their characters as the fixed pages' document
        did, before anything is drawn (reportlab's own calls, in that document's order)."""
        doc = canvas._doc  # noqa: SLF001 - reportlab's document
        for name, chars in self.fonts:
            font = pdfmetrics.getFont(name)
            if getattr(font, "_dynamicFont", False):
                font.getSubsetInternalName(0, doc)
                if chars:
                    font.splitString(chars, doc)
            else:
                doc.getInternalFontName(name)

    def flowables(self) -> list[Flowable]:
        """One `ReplayedPage` a page, the last one as tall as its text."""
        count = len(self.pages)
        return [
            ReplayedPage(
                self,
                n,
                self.last_height if n == count - 1 else None,
                self.last_space_after if n == count - 1 else 0,
            )
            for n in range(count)
        ]


class ReplayedPage(Flowable):
    """A whole page of the fixed text, written as the operators it drew (in page coordinates).
    It goes only at the top of a page: elsewhere it asks for the whole frame, so reportlab
    moves it to the next page. `height` None: it fills the page."""

    def __init__(
        self,
        source: FixedPages,
        number: int,
        height: float | None,
        space_after: float,
    ) -> None:
        super().__init__()
        #: The pages this one is of: the consent's canvas begins with their `prelude`.
        self.source = source
        self._number = number
        self._height = height
        self.spaceAfter = space_after

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:  # noqa: N803
        frame = self._frame
        if not frame._atTop:  # noqa: SLF001 - reportlab's frame
            return availWidth, frame._aH  # noqa: SLF001
        self.width = availWidth
        self.height = availHeight if self._height is None else self._height
        return availWidth, self.height

    def split(self, availWidth: float, availHeight: float) -> list[Flowable]:  # noqa: N803
        return []

    def drawOn(self, canvas: Canvas, x: float, y: float, _sW: float = 0) -> None:  # noqa: N802, N803
        canvas._code.extend(self.source.pages[self._number])  # noqa: SLF001 - its page content
        # For the canvas: this page is that fixed page (`FixedPages.content_stream`).
        canvas._replayed = (self.source, self._number)  # noqa: SLF001


class _KeptFlate:
    """reportlab's Flate filter for one replayed page: the page's fixed operators (with the
    preamble every page of the document begins with) compressed once, at the highest level,
    and what this document draws after them (its footer) compressed on from there."""

    pdfname = "FlateDecode"

    def __init__(self, head: bytes) -> None:
        self._head = head
        self._compressor = zlib.compressobj(9)
        self._compressed = self._compressor.compress(head)

    def encode(self, text: str | bytes) -> bytes:
        data = text.encode("utf8") if isinstance(text, str) else text
        if not data.startswith(self._head):
            return zlib.compress(data)
        compressor = self._compressor.copy()
        tail = data[len(self._head) :]
        return self._compressed + compressor.compress(tail) + compressor.flush()


class _End(Flowable):
    """Placed after the fixed text: notes where on the last page it ended."""

    _ZEROSIZE = True

    def __init__(self, seen: dict[str, float]) -> None:
        super().__init__()
        self._seen = seen

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:  # noqa: N803
        frame = self._frame
        top = frame._y2 - frame._topPadding  # noqa: SLF001 - reportlab's frame
        # The frame is below the last flowable's space after it, which the next flowable's
        # space before may overlap: the replayed page ends above it, and then has it.
        after = frame._prevASpace if frame._oASpace else 0  # noqa: SLF001
        self._seen["height"] = top - frame._y - after  # noqa: SLF001
        self._seen["space_after"] = after
        return 0, 0

    def draw(self) -> None:
        pass


class _Recorder(Canvas):
    """A canvas that keeps each page's operators instead of writing a file; `replayable` False
    when a page needs a resource of its own (a graphics state, an image, a form, a link)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pages: list[tuple[str, ...]] = []
        self.replayable = True

    def showPage(self) -> None:  # noqa: N802 - reportlab's name
        if (
            self._extgstate._c  # noqa: SLF001 - reportlab's page resources
            or self._formsinuse
            or self._annotationrefs
            or self._colorsUsed
            or self._shadingUsed
            or self._codeStack
        ):
            self.replayable = False
        self.pages.append(tuple(self._code))
        self._startPage()

    def save(self) -> None:
        pass


def _lay_out(story: list[Flowable], doc_options: dict[str, Any]) -> FixedPages | None:
    seen: dict[str, float] = {}
    recorders: list[_Recorder] = []

    def canvasmaker(*args: Any, **kwargs: Any) -> _Recorder:
        recorders.append(_Recorder(*args, **kwargs))
        return recorders[-1]

    SimpleDocTemplate(io.BytesIO(), **doc_options).build(
        [*story, _End(seen)], canvasmaker=canvasmaker
    )
    (canvas,) = recorders
    if not canvas.replayable or not canvas.pages or "height" not in seen:
        return None
    doc = canvas._doc  # noqa: SLF001
    fonts = []
    for name in doc.fontMapping:
        font = pdfmetrics.getFont(name)
        state = getattr(font, "state", {}).get(doc)
        if state is None:
            fonts.append((name, ""))
            continue
        # What a new document codes from the start (printable ASCII, as itself) is left out.
        own = font.State(font._asciiReadable, font).assignments  # noqa: SLF001
        coded = sorted((code, char) for char, code in state.assignments.items() if char not in own)
        fonts.append((name, "".join(chr(char) for _code, char in coded)))
    return FixedPages(tuple(canvas.pages), seen["height"], seen["space_after"], tuple(fonts))


_lock = threading.Lock()


def fixed_pages(
    layout: FormLayout,
    settings: Hashable,
    story: Callable[[], list[Flowable]],
    doc_options: dict[str, Any],
) -> FixedPages | None:
    """The fixed text's pages of `layout` (a form text, language and page size) with the
    clinic's `settings`: the ones kept, or `story()` laid out in a document made with
    `doc_options` (the consent's page size and margins). Kept with the layout, at most
    `PAGES_KEPT` settings a layout. None when its pages cannot be replayed (a page needs a
    resource of its own): the consent then lays the text out itself."""
    kept = layout.fixed_pages
    with _lock:
        if settings in kept:
            kept.move_to_end(settings)
            return kept[settings]
        pages = kept[settings] = _lay_out(story(), doc_options)
        while len(kept) > PAGES_KEPT:
            kept.popitem(last=False)
        return pages
