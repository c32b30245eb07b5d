"""The one safe file writer: whole files only, owner-only by default, no temp files left."""

from __future__ import annotations

from pathlib import Path

import pytest

from intake.safe_write import copy_file, safe_file, write_file


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


def test_a_streamed_file_is_owner_only_from_the_start_and_placed_at_the_end(tmp_path: Path):
    target = tmp_path / "export.zip"
    with safe_file(target, mode=0o640) as file:
        file.write(b"first ")
        (tmp,) = tmp_path.iterdir()
        assert tmp.name.startswith(".export.zip.") and tmp.stat().st_mode & 0o777 == 0o600
        assert not target.exists()
        file.write(b"second")
        assert file.tell() == 12
    assert file.placed
    assert target.read_bytes() == b"first second"
    assert target.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["export.zip"]


def test_a_failure_in_the_block_leaves_nothing(tmp_path: Path):
    target = tmp_path / "export.zip"
    with pytest.raises(RuntimeError), safe_file(target) as file:
        file.write(b"half")
        raise RuntimeError("stopped")
    assert list(tmp_path.iterdir()) == []


def test_copy_file_streams_a_whole_copy(tmp_path: Path):
    source = tmp_path / "source.pdf"
    source.write_bytes(bytes(range(256)) * 1000)
    target = tmp_path / "copy.pdf"
    assert copy_file(source, target) is True
    assert target.read_bytes() == source.read_bytes()
    assert target.stat().st_mode & 0o777 == 0o600
    assert copy_file(source, target, replace=False) is False
