"""Where a signed consent goes: a small seam that the archive will replace.

The tablet flow only knows the `ConsentStore` protocol. `FileConsentStore` keeps each consent in
its own folder under the instance folder: `<root>/<consent id>/consent.pdf` and
`submission.json` (the canonical submission, byte for byte what was hashed).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Protocol

from intake.safe_write import write_file
from intake.submission import Submission

_CONSENT_ID = re.compile(r"^[0-9a-f]{32}$")


class ConsentNotFound(KeyError):
    """No stored consent has this id."""


class ConsentStore(Protocol):
    def save(self, submission: Submission, pdf: bytes, consent_id: str) -> str:
        """Keep a signed consent under `consent_id` (the PDF's document id); return that id."""
        ...

    def open_pdf(self, consent_id: str) -> bytes:
        """The stored PDF; `ConsentNotFound` when there is none."""
        ...


class FileConsentStore:
    """Consents as files, one folder each, readable only by the app's user."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _folder(self, consent_id: str) -> Path:
        if not _CONSENT_ID.match(consent_id):
            raise ConsentNotFound(consent_id)
        return self.root / consent_id

    def save(self, submission: Submission, pdf: bytes, consent_id: str) -> str:
        folder = self._folder(consent_id)
        folder.mkdir(parents=True, mode=0o700)
        write_file(folder / "submission.json", submission.canonical_json())
        write_file(folder / "consent.pdf", pdf)
        return consent_id

    def open_pdf(self, consent_id: str) -> bytes:
        try:
            return (self._folder(consent_id) / "consent.pdf").read_bytes()
        except FileNotFoundError:
            raise ConsentNotFound(consent_id) from None
