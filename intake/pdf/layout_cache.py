"""The form's own text laid out once per form text, language and page size, and reused.

Most of a consent is the same for every patient of a form version: the consent text, the side
effects, the acknowledgments' wording, the screening questions, the headings and labels. Parsing
each of those paragraphs' markup and breaking it into lines is most of the layout's work, so a
`FormLayout` keeps, for each such paragraph, reportlab's parsed fragments and its line breaks at
each width it was wrapped to, and the page-content operators it drew, and every later consent of
the same form text reuses them. A drawing is reused only where it would come out the same: the
same width and canvas state, and the same names and codes this document gave the paragraph's
fonts and characters (reportlab numbers a document's characters past ASCII in the order it first
meets them, so a patient's name can move them).

What the patient typed never enters the cache: it is laid out afresh for each consent (and so no
patient data stays in memory after a render).

- Keyed: a layout belongs to one form text (`ConsentDefinition.sha256`, the hash of every word of
  it), one language and one page size; inside it each paragraph is found by its exact markup, its
  style and its bullet. A different word, version, language or page size never reuses another's.
- Bounded: at most `LAYOUTS_KEPT` layouts (least recently used dropped), each holding only its
  form's own paragraphs, each paragraph at most `DRAWINGS_KEPT` drawings.
- Thread-safe: layouts are made and found under a lock; a paragraph's fragments, line breaks and
  drawings are computed once (`setdefault` keeps one when two threads race) and then only read.
- The same bytes: a cached paragraph is drawn from the very fragments, line breaks and operators
  a fresh process computes, so a warm render writes what a cold one writes.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from reportlab.lib.rl_accel import fp_str
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph

from intake.pdf.styles import consent_styles
from intake.pdf.text import pdf_text

#: How many form layouts (form text × language × page size) one process keeps.
LAYOUTS_KEPT = 16
#: How many drawings one paragraph keeps, one per combination of the codes documents gave its
#: characters (`_coded_per_document`): the first ones met; with another it is drawn for real.
DRAWINGS_KEPT = 8


@dataclass
class _Laid:
    """One paragraph of the form's text: its parsed fragments, and its line breaks by width."""

    text: str
    style: ParagraphStyle
    frags: list[Any]
    bullet: Any
    #: availWidth -> (blPara, wrap widths, height), each computed once, then only read.
    breaks: dict[float, tuple[Any, list[float], float]] = field(default_factory=dict)
    #: (font name, its characters coded per document) for each font the paragraph is drawn in.
    fonts: tuple[tuple[str, tuple[int, ...]], ...] = ()
    #: `_drawn_key` -> the page-content operators the paragraph drew, given that key.
    drawn: dict[tuple[Any, ...], tuple[str, ...]] = field(default_factory=dict)


#: The canvas state a paragraph's drawing depends on: all of reportlab's saved state but the
#: current matrix (a flowable draws at the origin, moved there by `drawOn`'s translate).
_STATE = [name for name in Canvas.STATE_ATTRIBUTES if name not in ("_currentMatrix", "_extgstate")]
_state_of = itemgetter(*_STATE)


def _coded_per_document(char: int) -> bool:
    """Whether reportlab gives `char` a code of the document's own (in order of first use):
    every character but printable ASCII, which keeps its own code, and the no-break space,
    written as a space."""
    return not (32 <= char < 127 or char == 0xA0)


def _fonts(frags: list[Any], style: ParagraphStyle, bullet: Any) -> tuple[Any, ...]:
    """Each font the paragraph draws in, with the characters it draws in it whose codes depend
    on the document (`_coded_per_document`)."""
    chars: dict[str, set[int]] = {}
    for frag in frags:
        chars.setdefault(frag.fontName, set()).update(map(ord, getattr(frag, "text", "")))
    if isinstance(bullet, str):
        chars.setdefault(style.bulletFontName, set()).update(map(ord, bullet))
    return tuple(
        (name, tuple(sorted(filter(_coded_per_document, codes)))) for name, codes in chars.items()
    )


def _drawn_key(canvas: Canvas, width: float, fonts: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """What a paragraph's drawn operators depend on besides its text: its width, the canvas
    state, and, for each font, its name in this document and the codes this document gave its
    characters (`_coded_per_document`). None when a font is not yet named or a character not
    yet coded in this document: drawing it then also records them, so it is drawn for real."""
    extgstate = canvas._extgstate  # noqa: SLF001 - reportlab's state
    # One repr of the tuple of the state's values: each value's repr, in one C call.
    key: list[Any] = [width, repr(_state_of(canvas.__dict__))]
    key.append(tuple(sorted(extgstate._d.items())))  # noqa: SLF001
    doc = canvas._doc  # noqa: SLF001
    for name, chars in fonts:
        font = pdfmetrics.getFont(name)
        font_state = getattr(font, "state", {}).get(doc)
        if font_state is None or font_state.internalName is None:
            return None
        assigned = font_state.assignments
        codes = tuple(assigned.get(c) for c in chars)
        if None in codes:
            return None
        key.append((name, font_state.internalName, codes))
    return tuple(key)


class FixedParagraph(Paragraph):
    """A paragraph of the form's own text, drawn from its `_Laid` fragments and line breaks.

    The pieces reportlab makes when it splits one across a page are plain paragraphs of their
    own (`split` builds them with `self.__class__(None, style, frags=...)`, no `laid`)."""

    def __init__(
        self,
        text: str | None,
        style: ParagraphStyle,
        bulletText: Any = None,  # noqa: N803 - reportlab's name
        frags: list[Any] | None = None,
        laid: _Laid | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(text, style, bulletText, frags=frags, **kwargs)
        self._laid = laid

    def drawOn(self, canvas: Canvas, x: float, y: float, _sW: float = 0) -> None:  # noqa: N802, N803
        """`Flowable.drawOn` (save the state, move to (x, y), draw, restore), written straight
        out when the drawing is known: the same operators, without reportlab's state copies."""
        laid = self._laid
        key = None if laid is None else _drawn_key(canvas, self.width, laid.fonts)
        code = None if key is None else laid.drawn.get(key)
        if code is None or getattr(self, "_showBoundary", None):
            super().drawOn(canvas, x, y, _sW)
            return
        x = self._hAlignAdjust(x, _sW)
        out = canvas._code  # noqa: SLF001 - reportlab's page content
        out += ("q", f"{fp_str(1, 0, 0, 1, x, y)} cm", *code, "Q")

    def draw(self) -> None:
        """Draw, or write the operators this paragraph drew before in the same state."""
        laid = self._laid
        canvas = self.canv
        key = None if laid is None else _drawn_key(canvas, self.width, laid.fonts)
        if key is None:
            super().draw()
            return
        code = laid.drawn.get(key)
        if code is not None:
            canvas._code.extend(code)  # noqa: SLF001 - reportlab's page content
            return
        start, states = len(canvas._code), len(canvas._extgstate._c)  # noqa: SLF001
        super().draw()
        # Only operators written, no new page resource (a graphics state), can be replayed.
        if len(canvas._extgstate._c) == states and len(laid.drawn) < DRAWINGS_KEPT:  # noqa: SLF001
            laid.drawn.setdefault(key, tuple(canvas._code[start:]))  # noqa: SLF001

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:  # noqa: N803
        laid = self._laid
        if laid is None:
            return super().wrap(availWidth, availHeight)
        known = laid.breaks.get(availWidth)
        if known is None:
            _width, height = super().wrap(availWidth, availHeight)
            # setdefault: two threads wrapping it at once keep the one result.
            known = laid.breaks.setdefault(availWidth, (self.blPara, self._wrapWidths, height))
        self.blPara, self._wrapWidths, self.height = known
        self.width = availWidth
        return availWidth, self.height


class FormLayout:
    """The laid-out paragraphs of one form text in one language at one page size."""

    def __init__(self, key: tuple[str, str, str]) -> None:
        self.key = key
        self.styles = consent_styles()
        self._paragraphs: dict[tuple[str, str, str | None, bool], _Laid] = {}
        self._lock = threading.Lock()
        #: The fixed text's pages laid out from these paragraphs, by clinic settings
        #: (`fixed_pages.py`): dropped with the layout.
        self.fixed_pages: OrderedDict[Any, Any] = OrderedDict()
        #: The form's own tables' sizes and drawings (`kept_table.py`), by their words and width.
        self.tables: dict[Any, Any] = {}

    def __len__(self) -> int:
        return len(self._paragraphs)

    def paragraph(
        self, text: str, style: str, bullet: str | None = None, *, markup: bool = False
    ) -> FixedParagraph:
        """A paragraph of the form's own words in the style named `style`: `text` printed
        literally (`pdf_text`), or with `markup` the app's own markup around escaped words.
        Parsed the first time it is asked for, its fragments reused after."""
        key = (text, style, bullet, markup)
        laid = self._paragraphs.get(key)
        if laid is None:
            with self._lock:
                laid = self._paragraphs.get(key)
                if laid is None:
                    source = text if markup else pdf_text(text)
                    parsed = Paragraph(source, self.styles[style], bulletText=bullet)
                    laid = _Laid(
                        parsed.text,
                        parsed.style,
                        parsed.frags,
                        parsed.bulletText,
                        fonts=_fonts(parsed.frags, parsed.style, parsed.bulletText),
                    )
                    self._paragraphs[key] = laid
        return FixedParagraph(laid.text, laid.style, laid.bullet, frags=laid.frags, laid=laid)


_layouts: OrderedDict[tuple[str, str, str], FormLayout] = OrderedDict()
_layouts_lock = threading.Lock()


def form_layout(form_sha256: str, language: str, page_size: str) -> FormLayout:
    """The layout of this form text, language and page size: the one kept, or a new one (the
    least recently used dropped past `LAYOUTS_KEPT`)."""
    key = (form_sha256, language, page_size)
    with _layouts_lock:
        layout = _layouts.get(key)
        if layout is None:
            layout = _layouts[key] = FormLayout(key)
            while len(_layouts) > LAYOUTS_KEPT:
                _layouts.popitem(last=False)
        else:
            _layouts.move_to_end(key)
        return layout


def kept_layouts() -> list[tuple[str, str, str]]:
    """The keys of the layouts kept, least recently used first."""
    with _layouts_lock:
        return list(_layouts)


def forget_layouts() -> None:
    """Drop every kept layout: the next render of each form lays it out afresh."""
    with _layouts_lock:
        _layouts.clear()
