"""The newest schema revision, read from the migration files as text (without Alembic, whose
import and script loading cost more than a quick command's whole work). Alembic is asked only
where the files do not say it plainly (`migrate.head_revision`); tests/test_audit_verify_driver.py
holds this equal to Alembic's own answer."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

VERSIONS = Path(__file__).resolve().parent.parent / "migrations" / "versions"

_REVISION = re.compile(r"""^revision(?:\s*:[^=\n]*)?\s*=\s*["']([^"'\n]+)["']\s*$""", re.M)
_DOWN = re.compile(
    r"""^down_revision(?:\s*:[^=\n]*)?\s*=\s*(?:None|["']([^"'\n]+)["'])\s*$""", re.M
)


@cache
def head_revision() -> str | None:
    """The one revision no migration revises, or None when the files do not say it plainly (a
    revision, or the one it revises, not written as one string, or more than one head): the
    caller then asks Alembic."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in sorted(VERSIONS.glob("*.py")):
        if path.name == "__init__.py":
            continue
        text = path.read_text("utf-8")
        revision, down = _REVISION.findall(text), _DOWN.findall(text)
        if len(revision) != 1 or len(down) != 1:
            return None
        revisions.add(revision[0])
        if down[0]:
            revised.add(down[0])
    heads = revisions - revised
    return heads.pop() if len(heads) == 1 and revised <= revisions else None
