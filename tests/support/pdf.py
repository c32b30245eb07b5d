"""A consent PDF's text as the tests read it back: footers out, white space folded."""

from __future__ import annotations

import io
import re
import unicodedata

from pypdf import PdfReader

FOOTER = re.compile(r"^Page \d+ of \d+ · .*$", re.MULTILINE)


def pdf_words(pdf: bytes) -> str:
    """The PDF's text, footers out, white space folded, compatibility forms (the joined Arabic
    letters the PDF stores) back to plain letters."""
    pages = PdfReader(io.BytesIO(pdf)).pages
    text = " ".join(FOOTER.sub("", page.extract_text()) for page in pages)
    return words(text)


def words(text: str) -> str:
    """Text with every run of white space folded to one space (lines wrap anywhere) and NFKC
    applied."""
    return " ".join(unicodedata.normalize("NFKC", text).split())
