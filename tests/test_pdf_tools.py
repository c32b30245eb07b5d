"""What PDF tools no one here wrote say about our files: `qpdf --check`, `pdfinfo` and
`pdffonts` on archived consents (both databases) and on the preview, each silent."""

from __future__ import annotations

import io
from pathlib import Path

import pikepdf
import pytest

from intake.archive.audit import Actor
from intake.archive.service import Archive
from intake.submission import validate_submission
from tests.support.app import on_both_databases
from tests.support.pdftools import all_warnings, pdffonts_rows

app_config = pytest.fixture(on_both_databases, name="app_config")

TABLET = Actor(ip="192.0.2.7", user_agent="Tablet")


def written(tmp_path: Path, pdf: bytes, name: str) -> Path:
    path = tmp_path / name
    path.write_bytes(pdf)
    return path


def test_an_archived_consent_draws_no_warning(archive: Archive, catalog, demo_data, tmp_path):
    consent_id = archive.submit(validate_submission(demo_data, catalog), TABLET)
    path = written(tmp_path, archive.pdf(consent_id), "archived.pdf")
    assert all_warnings(path) == {"qpdf --check": [], "pdfinfo": [], "pdffonts": []}


def test_an_archived_minors_consent_draws_no_warning(archive: Archive, catalog, minor, tmp_path):
    consent_id = archive.submit(validate_submission(minor, catalog), TABLET)
    path = written(tmp_path, archive.pdf(consent_id), "minor.pdf")
    assert all_warnings(path) == {"qpdf --check": [], "pdfinfo": [], "pdffonts": []}


def test_the_preview_draws_no_warning(demo_pdf: bytes, tmp_path: Path):
    path = written(tmp_path, demo_pdf, "preview.pdf")
    assert all_warnings(path) == {"qpdf --check": [], "pdfinfo": [], "pdffonts": []}


def test_every_font_is_embedded_and_maps_to_unicode(demo_pdf: bytes, tmp_path: Path):
    rows = pdffonts_rows(written(tmp_path, demo_pdf, "preview.pdf"))
    assert {row["name"].split("+")[-1] for row in rows} == {"DejaVuSans", "DejaVuSans-Bold"}
    assert all(row["emb"] == row["sub"] == row["uni"] == "yes" for row in rows)


def test_the_tools_do_warn_about_a_broken_file(demo_pdf: bytes, tmp_path: Path):
    """The checks can fail: an unembedded Helvetica in a page's resources, a wrong trailer count
    and a metadata stream of no type."""
    with pikepdf.open(io.BytesIO(demo_pdf)) as doc:
        helvetica = pikepdf.Dictionary(
            Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica
        )
        doc.pages[0].Resources.Font.FX = doc.make_indirect(helvetica)
        del doc.Root.Metadata.Subtype
        out = io.BytesIO()
        doc.save(
            out, object_stream_mode=pikepdf.ObjectStreamMode.disable, fix_metadata_version=False
        )
    broken = out.getvalue()
    at = broken.rindex(b"/Size ") + len(b"/Size ")
    broken = broken[:at] + b"9" + broken[broken.index(b" ", at) :]
    warnings = all_warnings(written(tmp_path, broken, "broken.pdf"))
    assert any("number of objects" in line for line in warnings["qpdf --check"])
    assert any("Metadata" in line for line in warnings["pdfinfo"])
    assert warnings["pdffonts"] == ["Helvetica (Type 1): not embedded"]
