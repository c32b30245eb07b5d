"""The paged zip reader against zips written by Python's zipfile and by Info-ZIP's `zip`, and
`export verify` built on it: members missing, added, reordered or corrupted, and its memory."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import pytest

from intake.archive import export, zip_reader


def same_as_zipfile(path: Path) -> list[zip_reader.Member]:
    """The reader's entries of `path`, checked against zipfile's, with each member's bytes."""
    with zipfile.ZipFile(path) as zf, path.open("rb") as file:
        infos = zf.infolist()
        members = list(zip_reader.members(file))
        assert [m.name for m in members] == [i.filename for i in infos]
        for member, info in zip(members, infos, strict=True):
            assert (member.offset, member.size, member.compressed_size, member.crc) == (
                info.header_offset,
                info.file_size,
                info.compress_size,
                info.CRC,
            )
            assert zip_reader.read_member(file, member) == zf.read(info)
    return members


def test_zipfile_zips_stored_deflated_utf8_and_forced_zip64(tmp_path: Path):
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("consents/a.pdf", os.urandom(5000), zipfile.ZIP_STORED)
        zf.writestr("manifest.json", b'{"a": 1}' * 20000, zipfile.ZIP_DEFLATED)
        zf.writestr("consents/Muñoz.pdf", b"n", zipfile.ZIP_STORED)
        zf.mkdir("records")
        with zf.open("records/big.pdf", "w", force_zip64=True) as member:
            member.write(b"zip64 " * 30000)
        zf.comment = b"a comment at the end"
    members = same_as_zipfile(path)
    assert [m.is_dir for m in members] == [False, False, False, True, False]
    with path.open("rb") as file, zip_reader.open_member(file, members[1]) as data:
        assert data.read(8) == b'{"a": 1}'  # a stream, a few bytes at a time


def test_more_members_than_the_zip_end_record_can_count_use_zip64(tmp_path: Path):
    path = tmp_path / "many.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(0x10000 + 5):
            zf.writestr(f"c{i}", b"")
    with path.open("rb") as file:
        assert zip_reader._directory(file)[2] == 0x10000 + 5  # from the zip64 record
        count = last = 0
        for count, member in enumerate(zip_reader.members(file), 1):  # noqa: B007
            last = member
        assert count == 0x10000 + 5 and last.name == "c65540"


@pytest.mark.skipif(shutil.which("zip") is None, reason="Debian's zip is not installed")
@pytest.mark.parametrize("options", [["-q"], ["-q", "-fz"], ["-q", "-0"]])
def test_info_zip_zips_plain_and_forced_zip64(tmp_path: Path, options: list[str]):
    folder = tmp_path / "export"
    (folder / "consents").mkdir(parents=True)
    (folder / "consents" / "a.pdf").write_bytes(os.urandom(3000))
    (folder / "consents" / "b.pdf").write_bytes(b"text that deflates " * 500)
    (folder / "manifest.json").write_text(json.dumps({"format": 1}))
    path = tmp_path / "info.zip"
    subprocess.run(["zip", *options, "-r", str(path), "."], cwd=folder, check=True)
    members = same_as_zipfile(path)
    assert {m.name for m in members} >= {"consents/a.pdf", "consents/b.pdf", "manifest.json"}


def test_data_prepended_to_a_zip_is_allowed_as_zipfile_allows_it(tmp_path: Path):
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("a", b"one")
    path.write_bytes(b"#!/bin/sh\n" + path.read_bytes())
    assert [m.name for m in same_as_zipfile(path)] == ["a"]


def corrupt(path: Path, find: bytes | int) -> None:
    """One bit of `path` changed: in the first `find` bytes, or at the offset `find`."""
    data = bytearray(path.read_bytes())
    at = find if isinstance(find, int) else data.index(find)
    data[at] ^= 1
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_a_changed_byte_fails_the_crc_as_zipfile_does(tmp_path: Path, method: int):
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w", method) as zf:
        zf.writestr("a", b"".join(i.to_bytes(4, "big") for i in range(4000)))
    # In the data, past the local header (30 bytes and the name's one).
    corrupt(path, (1000).to_bytes(4, "big") if method == zipfile.ZIP_STORED else 31 + 40)
    # zipfile lets zlib's error through for broken deflated data; the reader names the member.
    with zipfile.ZipFile(path) as zf, pytest.raises((zipfile.BadZipFile, zlib.error)):
        zf.read("a")
    with path.open("rb") as file, pytest.raises(zipfile.BadZipFile, match="'a'"):
        zip_reader.read_member(file, next(zip_reader.members(file)))


def test_not_a_zip_and_a_truncated_directory_are_bad_zips(tmp_path: Path):
    path = tmp_path / "a.zip"
    path.write_bytes(b"not a zip at all")
    with path.open("rb") as file, pytest.raises(zipfile.BadZipFile):
        list(zip_reader.members(file))
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("a", b"one")
    data = path.read_bytes()
    end = data.rindex(b"PK\x05\x06")
    directory = data.rindex(b"PK\x01\x02")
    path.write_bytes(data[:directory] + data[directory + 10 : end] + data[end:])
    with path.open("rb") as file, pytest.raises(zipfile.BadZipFile):
        list(zip_reader.members(file))


def entry(name: str, body: bytes) -> dict[str, object]:
    return {"id": name, "file": name, "sha256": hashlib.sha256(body).hexdigest(), "size": 2}


def synthetic(path: Path, members: list[str], listed: list[str], extra: bytes = b"") -> None:
    """A zip of `members` (each `b"x"`, so the manifest's size 2 fails before any seal is read)
    and a manifest listing `listed`; each member's directory entry carries `extra`."""
    with zipfile.ZipFile(path, "w") as zf:
        for name in members:
            info = zipfile.ZipInfo(name)
            info.extra = extra
            zf.writestr(info, b"x")
        manifest = {"format": 1, "consents": [entry(name, b"x") for name in listed]}
        zf.writestr("manifest.json", json.dumps(manifest), zipfile.ZIP_DEFLATED)


def size_problem(name: str) -> str:
    return f"{name}: 1 bytes, the manifest says 2"


def test_verify_names_members_missing_added_and_holds_when_reordered(tmp_path: Path):
    names = [f"consents/c{i}.pdf" for i in range(6)]
    path = tmp_path / "a.zip"
    synthetic(path, names[1:] + ["consents/extra.pdf"], list(reversed(names)))
    check = export.verify_export(path, [], workers=1)
    listed = list(reversed(names))
    assert check.count == 6
    assert check.problems == [
        *(size_problem(n) for n in listed[:-1]),
        "consents/c0.pdf: missing from the zip",
        "consents/extra.pdf: not in the manifest",
    ]


def test_verify_names_a_corrupted_member_and_a_corrupted_directory(tmp_path: Path):
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("consents/a.pdf", b"A" * 100)
        zf.writestr("consents/b.pdf", b"B" * 100)
        entries = [entry("consents/a.pdf", b"A" * 100), entry("consents/b.pdf", b"B" * 100)]
        zf.writestr("manifest.json", json.dumps({"format": 1, "consents": entries}))
    corrupt(path, b"A" * 100)
    check = export.verify_export(path, [], workers=1)
    assert check.problems[0] == "consents/a.pdf: unreadable: Bad CRC-32 for file 'consents/a.pdf'"
    assert check.problems[1].startswith("consents/b.pdf: ")  # its size, then not a PDF
    assert not any("a.pdf" in problem for problem in check.problems[1:])
    data = path.read_bytes()
    end = data.rindex(b"PK\x05\x06")
    path.write_bytes(data[:end] + struct.pack("<4s", b"PK\x05\x07") + data[end + 4 :])
    assert export.verify_export(path, []).problems == ["not a readable zip: File is not a zip file"]


PEAK_RSS = """
import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=False)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def peak_rss_kib(path: Path) -> int:
    """The peak RSS of `intake export verify path` (and its worker processes), in KiB."""
    intake = Path(sys.executable).with_name("intake")
    command = [sys.executable, "-c", PEAK_RSS, str(intake), "export", "verify", str(path)]
    return int(subprocess.run(command, capture_output=True, check=True, text=True).stdout)


@pytest.mark.slow
def test_export_verify_memory_is_flat_in_the_number_of_members(tmp_path: Path):
    """The peak RSS of a verify of 20,000 members is that of 2,000: the directory is not held.

    Each member's directory entry carries a 1 KB extra field, which a reader holding every
    entry (zipfile's `ZipFile` keeps each one's) holds 18 MB more of at 20,000: verify on
    `zipfile` measured 109 → 156 MB (1.43). The problems verify keeps (one a member here: each
    fails its size) and the index's page cache cost some 4 MB more (measured 107 → 111 MB).
    """
    extra = struct.pack("<2H", 0xCAFE, 1000) + b"e" * 1000
    rss = {}
    for n in (2000, 20000):
        names = [f"consents/c{i:06}.pdf" for i in range(n)]
        path = tmp_path / f"{n}.zip"
        synthetic(path, names, names, extra)
        rss[n] = peak_rss_kib(path)
    assert rss[20000] / rss[2000] < 1.1, rss


def test_verify_names_a_temporary_index_it_cannot_write(tmp_path: Path, monkeypatch) -> None:
    """The members' index is a temporary SQLite file: a disk that refuses it is a one-line
    error, not a traceback."""
    out = tmp_path / "some.zip"
    with zipfile.ZipFile(out, "w") as archive_zip:
        archive_zip.writestr("manifest.json", "{}")

    def refuse(_: str) -> sqlite3.Connection:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr("intake.archive.export_members.sqlite3.connect", refuse)
    with pytest.raises(export.ExportError, match="cannot index the zip's members.*disk is full"):
        export.verify_export(out, [])
