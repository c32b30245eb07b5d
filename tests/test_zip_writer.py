"""The streaming zip writer read back by Python's zipfile, Info-ZIP's `unzip -t` and our own
`zip_reader`: stored and deflated members, a UTF-8 name, zip64 past 65,535 members and past
2 GiB of offsets; nothing that looks whole after an error; no memory held a member."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from intake.archive import zip_reader
from intake.archive.zip_writer import ZIP64_LIMIT, ZipWriter
from tests.test_zip_reader import same_as_zipfile

AT = (2026, 12, 1, 17, 30, 44)
needs_unzip = pytest.mark.skipif(
    shutil.which("unzip") is None and not os.environ.get("CI"), reason="no unzip"
)


def unzip_tests(path: Path) -> str:
    """`unzip -t`'s verdict on `path` (it fails the test when unzip finds a fault)."""
    result = subprocess.run(["unzip", "-tq", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@needs_unzip
def test_stored_deflated_and_utf8_members_read_back_by_every_reader(tmp_path: Path):
    path = tmp_path / "a.zip"
    pdf = os.urandom(5000)
    manifest = b'{"consents": []}\n' * 20000
    with path.open("wb") as file, ZipWriter(file, tmp_path) as zf:
        zf.write("consents/a.pdf", pdf, AT)
        zf.write("consents/Muñoz.pdf", b"", AT)
        with zf.open("manifest.json", AT) as member:
            for line in manifest.splitlines(keepends=True):
                member.write(line)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.zip"]  # no temporary file left
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
        infos = zf.infolist()
        assert [i.filename for i in infos] == [
            "consents/a.pdf",
            "consents/Muñoz.pdf",
            "manifest.json",
        ]
        assert [i.compress_type for i in infos] == [zipfile.ZIP_STORED] * 2 + [zipfile.ZIP_DEFLATED]
        assert {i.date_time for i in infos} == {(2026, 12, 1, 17, 30, 44)}
        assert {i.external_attr >> 16 for i in infos} == {0o600}
        assert infos[2].compress_size < len(manifest) / 100
        assert zf.read("consents/a.pdf") == pdf
        assert zf.read("manifest.json") == manifest
    same_as_zipfile(path)
    assert "No errors detected" in unzip_tests(path)


@pytest.mark.slow
@needs_unzip
def test_more_than_65535_members_get_a_zip64_end_record(tmp_path: Path):
    path = tmp_path / "many.zip"
    n = 0x10000 + 3
    with path.open("wb") as file, ZipWriter(file, tmp_path) as zf:
        for i in range(n):
            zf.write(f"consents/c{i}.pdf", b"%d" % i, AT)
    data = path.read_bytes()
    assert data.rfind(b"PK\x06\x06") > 0 and data.rfind(b"PK\x06\x07") > 0
    end = struct.unpack("<4s4H2LH", data[-22:])
    assert end[3] == end[4] == 0xFFFF  # the count is the zip64 record's
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        assert len(infos) == n
        assert zf.read(infos[-1]) == b"%d" % (n - 1)
    with path.open("rb") as file:
        members = list(zip_reader.members(file))
        assert len(members) == n and members[-1].name == f"consents/c{n - 1}.pdf"
        assert zip_reader.read_member(file, members[40000]) == b"40000"
    assert "No errors detected" in unzip_tests(path)


@needs_unzip
def test_offsets_past_2_gib_get_zip64_fields(tmp_path: Path):
    """Members written after 2 GiB of a (sparse) file: their offsets, and the directory's, are
    zip64's; each reader finds every member there."""
    path = tmp_path / "far.zip"
    with path.open("wb") as file:
        file.seek(ZIP64_LIMIT + 10)
        with ZipWriter(file, tmp_path) as zf:
            zf.write("consents/a.pdf", b"far away", AT)
            with zf.open("manifest.json", AT) as member:
                member.write(b"{}")
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        assert [i.header_offset for i in infos][0] == ZIP64_LIMIT + 10
        assert zf.read("consents/a.pdf") == b"far away"
        assert zf.read("manifest.json") == b"{}"
    with path.open("rb") as file:
        members = list(zip_reader.members(file))
        assert members[0].offset == ZIP64_LIMIT + 10
        assert zip_reader.read_member(file, members[1]) == b"{}"
    assert "No errors detected" in unzip_tests(path)


def test_after_an_error_nothing_looks_like_a_whole_zip(tmp_path: Path):
    path = tmp_path / "a.zip"
    with path.open("wb") as file, pytest.raises(KeyboardInterrupt):
        with ZipWriter(file, tmp_path) as zf:
            zf.write("consents/a.pdf", b"one", AT)
            raise KeyboardInterrupt
    assert b"PK\x05\x06" not in path.read_bytes()  # no end record
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.zip"]


def held_after(n: int, folder: Path) -> int:
    """Bytes Python still holds (tracemalloc) after `n` members are written, before the end."""
    folder.mkdir()
    with (folder / "a.zip").open("wb") as file, ZipWriter(file, folder) as zf:
        tracemalloc.start()
        try:
            for i in range(n):
                zf.write(f"consents/{i:036}.pdf", b"x", AT)
            return tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()


def test_no_memory_is_held_for_each_member_written(tmp_path: Path):
    """zipfile keeps a ZipInfo a member (some 600 bytes: 6 MB for 10,000); the writer keeps
    nothing but counts."""
    few, many = held_after(1000, tmp_path / "few"), held_after(10000, tmp_path / "many")
    assert many - few < 9000 * 8, (few, many)
    with zipfile.ZipFile(tmp_path / "many" / "a.zip") as zf:
        assert len(zf.infolist()) == 10000
