"""The consent's canvas: each page's footer ("Page X of Y", the document id) written once the
page count is known, and a preview's mark, drawn once per process and shared by its pages."""

from __future__ import annotations

import io
import zlib
from functools import lru_cache
from typing import Any

from reportlab.lib import colors
from reportlab.lib.units import inch
from reportlab.pdfgen.canvas import Canvas

from intake.languages import N_, Words
from intake.pdf.fonts import BODY, FONT_DIR
from intake.pdf.outline import draw_outlined_centred

#: Printed across every page of a consent rendered without the clinic's seal, so nothing
#: unsealed can pass for a signed record.
PREVIEW_MARK = N_("PREVIEW — not a signed consent")
BOLD_FILE = FONT_DIR / "DejaVuSans-Bold.ttf"
PREVIEW_RED = colors.HexColor("#b00020")
PREVIEW_PALE = colors.HexColor("#f7dde1")


class _NumberedCanvas(Canvas):
    """A canvas that waits for the last page, then writes "Page X of Y · <document id>" and, on
    a preview, `PREVIEW_MARK` after it (as text). `mark_preview` puts the same words at the top
    of the page and across it, as outlines, so that a paragraph running on to the next page
    still reads whole."""

    def __init__(self, *args: Any, footer: str, preview: bool, words: Words, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._footer = footer
        self._preview = preview
        self._words = words
        self._mark = words(PREVIEW_MARK)
        self._pages: list[dict[str, Any]] = []

    def showPage(self) -> None:  # noqa: N802 - reportlab's name
        self._pages.append(dict(self.__dict__))
        # Set by a fixed page replayed on this page (`ReplayedPage`).
        self.__dict__.pop("_replayed", None)
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for number, state in enumerate(self._pages, start=1):
            self.__dict__.update(state)
            width, _ = self._pagesize
            self.setFont(BODY, 7.5)
            self.setFillColor(colors.HexColor("#555555"))
            page = self._words(N_("Page %(number)s of %(total)s"), number=number, total=total)
            footer = f"{page} · {self._footer}"
            if self._preview:
                footer += f" · {self._mark}"
            self.drawCentredString(width / 2, 0.45 * inch, footer)
            super().showPage()
            replayed = state.get("_replayed")
            if replayed is not None:
                pages, page = replayed
                pages.content_stream(page, self._doc.Pages.pages[-1])
        super().save()

    def mark_preview(self) -> None:
        """Draw the preview mark beneath the page's content."""
        width, height = self._pagesize
        self.saveState()
        self.setFillColor(PREVIEW_RED)
        self.rect(0, height - 0.42 * inch, width, 0.42 * inch, stroke=0, fill=1)
        self.setFillColor(colors.white)
        draw_outlined_centred(self, self._mark, BOLD_FILE, 12, width / 2, height - 0.28 * inch)
        self.setFillColor(PREVIEW_PALE)
        self.translate(width / 2, height / 2)
        self.rotate(40)
        draw_outlined_centred(self, self._mark, BOLD_FILE, 40, 0, 0)
        self.restoreState()


@lru_cache(maxsize=8)
def preview_underlay(mark: str, pagesize: tuple[float, float]) -> bytes:
    """`mark_preview`'s page content for `mark` at `pagesize`, Flate-compressed, made once:
    the consent's pages share it as the first of their content streams (`finish_pdf`), so it
    is drawn and stored once per file, not once a page. It names no resource (outlines, not
    text), so it draws the same beneath any page."""
    canvas = _NumberedCanvas(
        io.BytesIO(), pagesize=pagesize, footer="", preview=True, words=lambda _t, **_v: mark
    )
    start = len(canvas._code)  # noqa: SLF001 - reportlab's page content
    canvas.mark_preview()
    return zlib.compress("\n".join(canvas._code[start:]).encode("latin-1"))  # noqa: SLF001
