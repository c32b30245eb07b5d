"""`FileBlobs`: the one owner of the PDF folder's layout, listing and placing back its files."""

from __future__ import annotations

import hashlib
from pathlib import Path

from intake.archive.blobs import FileBlobs
from intake.archive.manifest import digest, entry_problems, file_digest, is_file_entry

PDF = b"%PDF-1.7 a sealed consent"
SHA256 = hashlib.sha256(PDF).hexdigest()


def test_files_lists_stored_pdfs_and_changes_nothing(tmp_path: Path):
    blobs = FileBlobs(tmp_path / "archive")
    assert list(blobs.files()) == []
    blobs.put(None, PDF)  # type: ignore[arg-type] - files need no session
    left = blobs.path(SHA256).parent / f".{SHA256}.pdf.x.tmp"
    left.write_bytes(b"a crash left this")
    assert list(blobs.files()) == [(SHA256, blobs.path(SHA256))]
    assert left.exists()


def test_names_and_sha256_are_each_others_inverse():
    name = FileBlobs.name(SHA256)
    assert name == f"{SHA256[:2]}/{SHA256}.pdf"
    assert FileBlobs.sha256_named(name) == SHA256
    assert FileBlobs.sha256_named(f"00/{SHA256}.pdf") is None
    assert FileBlobs.sha256_named(f"{SHA256[:2]}/{SHA256}.txt") is None


def test_place_puts_a_file_back_once(tmp_path: Path):
    source = tmp_path / "backup.pdf"
    source.write_bytes(PDF)
    blobs = FileBlobs(tmp_path / "archive")
    blobs.place(SHA256, source)
    assert blobs.path(SHA256).read_bytes() == PDF
    assert blobs.path(SHA256).stat().st_mode & 0o777 == 0o600
    before = blobs.path(SHA256).stat().st_ino
    blobs.place(SHA256, source)
    assert blobs.path(SHA256).stat().st_ino == before


def test_a_damaged_pdf_is_placed_back_whole(tmp_path: Path):
    source = tmp_path / "backup.pdf"
    source.write_bytes(PDF)
    blobs = FileBlobs(tmp_path / "archive")
    blobs.place(SHA256, source)
    blobs.path(SHA256).write_bytes(b"damaged")
    blobs.place(SHA256, source)
    assert blobs.path(SHA256).read_bytes() == PDF


def test_a_manifest_entry_is_checked_by_sha256_and_size(tmp_path: Path):
    path = tmp_path / "file"
    path.write_bytes(PDF)
    found = file_digest(path)
    with path.open("rb") as stream:
        assert digest(stream) == found == {"sha256": SHA256, "size": len(PDF)}
    entry = {"file": "file", **found}
    assert is_file_entry(entry) and not is_file_entry({"file": "file", "sha256": SHA256})
    assert entry_problems(entry, found) == []
    assert entry_problems({**entry, "size": 1}, found) == [f"{len(PDF)} bytes, the manifest says 1"]
