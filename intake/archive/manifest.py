"""The manifest an export or a backup carries: JSON naming every file with its SHA-256 and size,
and the streaming digest both compute when they write a file and when they check one."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import IO, Any

import ijson

from intake.safe_write import CHUNK


class ManifestUnreadable(Exception):
    """A manifest that is not valid JSON."""


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


def top_level(stream: IO[bytes], skip: str) -> tuple[dict[str, Any], str]:
    """A JSON object's fields but `skip` (the long list of entries, read apart a few at a
    time with `ijson.items`), and the JSON type `skip` holds ("array", "map", "string"...; ""
    when it is not there). A document that is not an object gives `{"": None}`.

    Raises `ManifestUnreadable` when it is not JSON."""
    fields, types = top_level_many(stream, (skip,))
    return fields, types[skip]


def top_level_many(
    stream: IO[bytes], skip: tuple[str, ...]
) -> tuple[dict[str, Any], dict[str, str]]:
    """`top_level` for several long lists: the other fields, and the JSON type each of `skip`
    holds ("" when it is not there)."""
    fields: dict[str, Any] = {}
    skipped = dict.fromkeys(skip, "")
    try:
        events = ijson.parse(stream, use_float=True)
        _, event, _ = next(events)
        if event != "start_map":
            for _ in events:
                pass
            return {"": None}, skipped
        builder: Any = None
        name = ""
        for prefix, event, value in events:
            if prefix == "" and event in ("map_key", "end_map"):
                if builder is not None:
                    fields[name] = builder.value
                builder = None
                if event == "map_key":
                    name = value
                    if name not in skipped:
                        builder = ijson.ObjectBuilder()
                continue
            if builder is not None:
                builder.event(event, value)
            elif prefix in skipped and not skipped[prefix]:
                skipped[prefix] = {"start_array": "array", "start_map": "map"}.get(event, event)
    except (ijson.JSONError, UnicodeDecodeError, StopIteration) as exc:
        raise ManifestUnreadable(str(exc) or "empty") from None
    return fields, skipped
