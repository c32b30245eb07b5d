"""The one safe file writer: whole files only, owner-only by default, no temp files left."""

from __future__ import annotations

from pathlib import Path

from intake.safe_write import write_file


def test_replace_writes_whole_file_owner_only(tmp_path: Path):
    target = tmp_path / "consent.pdf"
    target.write_bytes(b"old")
    assert write_file(target, b"new") is True
    assert target.read_bytes() == b"new"
    assert target.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["consent.pdf"]


def test_without_replace_the_first_writer_wins(tmp_path: Path):
    target = tmp_path / "seal.pem"
    assert write_file(target, b"first", mode=0o644, replace=False) is True
    assert write_file(target, b"second", mode=0o644, replace=False) is False
    assert target.read_bytes() == b"first"
    assert target.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["seal.pem"]
