"""The manifest an export or a backup carries: JSON naming every file with its SHA-256 and size,
and the streaming digest both compute when they write a file and when they check one."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import IO, Any

from intake.safe_write import CHUNK


def manifest_json(manifest: dict[str, Any]) -> bytes:
    """The manifest as it is written: indented for a person to read, UTF-8."""
    return json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8")


def digest(stream: IO[bytes]) -> dict[str, Any]:
    """The SHA-256 and size of what `stream` holds, read a chunk at a time."""
    sha256, size = hashlib.sha256(), 0
    while chunk := stream.read(CHUNK):
        sha256.update(chunk)
        size += len(chunk)
    return {"sha256": sha256.hexdigest(), "size": size}


def file_digest(path: Path) -> dict[str, Any]:
    """The SHA-256 and size of a file, as its manifest entry records them."""
    with path.open("rb") as file:
        return digest(file)


def is_file_entry(entry: Any) -> bool:
    """Whether a manifest entry has the file name, SHA-256 and size every entry needs."""
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("file"), str)
        and isinstance(entry.get("sha256"), str)
        and isinstance(entry.get("size"), int)
    )


def entry_problems(entry: dict[str, Any], found: dict[str, Any]) -> list[str]:
    """Where a file's `digest` differs from its manifest entry (empty: it matches)."""
    problems = []
    if found["sha256"] != entry["sha256"]:
        problems.append(
            f"SHA-256 {found['sha256']} does not match the manifest ({entry['sha256']})"
        )
    if found["size"] != entry["size"]:
        problems.append(f"{found['size']} bytes, the manifest says {entry['size']}")
    return problems
