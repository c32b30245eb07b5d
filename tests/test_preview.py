"""A consent rendered without the clinic's seal says so on every page, in text and in sight."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

from PIL import Image
from pypdf import PdfReader

from intake.archive.audit import Actor
from intake.pdf.render import PREVIEW_MARK
from intake.submission import validate_submission


def page_texts(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def top_band_colours(pdf_path: Path, out: Path) -> list[tuple[int, int, int]]:
    """The colour at the middle of the top edge of every page, as poppler draws it."""
    subprocess.run(["pdftoppm", "-png", "-r", "30", str(pdf_path), str(out / "page")], check=True)
    colours = []
    for image in sorted(out.glob("page-*.png")):
        with Image.open(image) as page:
            rgb = page.convert("RGB")
            colours.append(rgb.getpixel((rgb.width // 4, 2)))
    return colours


def test_intake_render_marks_every_page_a_preview(tmp_path: Path, intake):
    out = tmp_path / "demo.pdf"
    assert intake("render", "--demo", "--out", out).exit_code == 0
    texts = page_texts(out.read_bytes())
    assert len(texts) >= 4
    for text in texts:
        # The footer carries the words as text; the band and the diagonal are outlines.
        assert text.count(PREVIEW_MARK) == 1
    red = top_band_colours(out, tmp_path)
    assert len(red) == len(texts)
    for r, g, b in red:
        assert r > 150 and g < 60 and b < 80, (r, g, b)


def test_the_archive_seals_without_the_preview_mark(tmp_path: Path, archive, demo_data):
    consent_id = archive.submit(validate_submission(demo_data, archive.catalog), Actor())
    pdf = archive.pdf(consent_id)
    assert archive.check(pdf).holds
    texts = page_texts(pdf)
    assert all(PREVIEW_MARK not in text for text in texts)
    path = tmp_path / "sealed.pdf"
    path.write_bytes(pdf)
    assert all(colour == (255, 255, 255) for colour in top_band_colours(path, tmp_path))
