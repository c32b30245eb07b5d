"""PDF tools no one here wrote: Debian's qpdf (`qpdf --check`) and poppler (`pdfinfo`,
`pdffonts`), run on a file; what each of them warns about, as lines.

Without a tool the test skips, except under CI=true, where it fails (`make test` installs both).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

TOOLS = {"qpdf": "qpdf", "pdfinfo": "poppler-utils", "pdffonts": "poppler-utils"}


def need_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        message = f"{name} is missing: apt-get install {TOOLS[name]}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)


def qpdf_warnings(path: Path) -> list[str]:
    """`qpdf --check`: exit 0 when it found nothing; 2 (errors) or 3 (warnings) otherwise."""
    result = _run(need_tool("qpdf"), "--check", str(path))
    lines = (result.stdout + result.stderr).splitlines()
    flagged = [line for line in lines if "WARNING" in line]
    if result.returncode != 0:
        flagged += [f"qpdf exited {result.returncode}", *lines]
    return flagged


def pdfinfo_warnings(path: Path) -> list[str]:
    """`pdfinfo`: poppler writes each warning ("Syntax Warning: ...") on standard error."""
    result = _run(need_tool("pdfinfo"), str(path))
    problems = result.stderr.splitlines()
    if result.returncode != 0:
        problems.append(f"pdfinfo exited {result.returncode}")
    return problems


def pdffonts_rows(path: Path) -> list[dict[str, str]]:
    """`pdffonts`'s table: one row per font, with its `name`, `type`, `emb`, `sub` and `uni`."""
    result = _run(need_tool("pdffonts"), str(path))
    assert result.returncode == 0 and not result.stderr, result.stderr
    lines = result.stdout.splitlines()
    # The dashes under the header give each column's width.
    widths = [len(dashes) for dashes in lines[1].split(" ")]
    header = ["name", "type", "encoding", "emb", "sub", "uni", "object"]
    rows = []
    for line in lines[2:]:
        cells, at = [], 0
        for width in widths[:-1]:
            cells.append(line[at : at + width].strip())
            at += width + 1
        cells.append(line[at:].strip())
        rows.append(dict(zip(header, cells, strict=True)))
    return rows


def pdffonts_warnings(path: Path) -> list[str]:
    """A font `pdffonts` lists as not embedded, or without a map back to Unicode."""
    return [
        f"{row['name']} ({row['type']}): "
        + ("not embedded" if row["emb"] != "yes" else "no ToUnicode map")
        for row in pdffonts_rows(path)
        if row["emb"] != "yes" or row["uni"] != "yes"
    ]


def all_warnings(path: Path) -> dict[str, list[str]]:
    """What each tool says about the file; every list is empty for a clean one."""
    return {
        "qpdf --check": qpdf_warnings(path),
        "pdfinfo": pdfinfo_warnings(path),
        "pdffonts": pdffonts_warnings(path),
    }
