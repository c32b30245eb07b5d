"""The folder a FHIR export is written into: its NDJSON files, each counted and hashed as it is
written, the sealed PDFs, and the manifest (written last). Every file is owner-only.
The files are synced together once they are all written (`sync_tree`: one `syncfs`), then the
manifest, on its own. The only code that writes this layout; `verify.py` reads it."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

from intake.archive.blobs import BlobMissing
from intake.archive.export import ExportError
from intake.archive.service import Archive
from intake.fhir import resources as fhir

MANIFEST = "manifest.json"
#: Our own checks' version, in the manifest's `extension`.
FORMAT = 1
#: The manifest's `extension` key for them.
CHECKS = "intake"
#: The resource types, in the order their files are listed.
TYPES = (
    "Patient",
    "Questionnaire",
    "QuestionnaireResponse",
    "Consent",
    "DocumentReference",
    "Provenance",
    "MedicationAdministration",
)


def ndjson_name(resource_type: str) -> str:
    return f"{resource_type}.ndjson"


class Output:
    """One NDJSON file being written: its lines counted and hashed as they go."""

    def __init__(self, path: Path) -> None:
        self.file: IO[bytes] = os.fdopen(
            os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb"
        )
        self.sha256 = hashlib.sha256()
        self.count = self.size = 0

    def write(self, resource: dict[str, Any]) -> None:
        line = json.dumps(resource, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
        self.file.write(line)
        self.sha256.update(line)
        self.count += 1
        self.size += len(line)

    def close(self) -> None:
        self.file.close()


@dataclass
class Folder:
    """The temporary folder the export is written into."""

    root: Path
    outputs: dict[str, Output] = field(default_factory=dict)

    def write(self, resource: dict[str, Any]) -> None:
        kind = resource["resourceType"]
        if kind not in self.outputs:
            self.outputs[kind] = Output(self.root / ndjson_name(kind))
        self.outputs[kind].write(resource)

    def pdf(self, archive: Archive, what: str, document_id: str, sha256: str | None) -> fhir.Pdf:
        """The stored PDF into `documents/`, checked against the row's SHA-256."""
        assert sha256 is not None
        try:
            with archive.sessions() as session:
                data = archive.blobs.get(session, sha256)
        except BlobMissing:
            raise ExportError(f"{what}: its stored PDF ({sha256}) is missing") from None
        digest = hashlib.sha256(data).digest()
        if digest.hex() != sha256:
            raise ExportError(
                f"{what}: the stored PDF's SHA-256 {digest.hex()} does not match the "
                f"archive's record ({sha256})"
            )
        path = self.root / fhir.document_url(document_id)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        return fhir.Pdf(document_id, len(data), hashlib.sha1(data).digest(), digest)

    def close(self) -> None:
        for output in self.outputs.values():
            output.close()

    def close_quietly(self) -> None:
        """After a failure: every file closed, none synced (the folder is removed)."""
        for output in self.outputs.values():
            if not output.file.closed:
                output.file.close()

    def manifest(self, exported_at: datetime, request: str, since: date | None) -> None:
        listed = [kind for kind in TYPES if kind in self.outputs]
        manifest = {
            "transactionTime": fhir.instant(exported_at),
            "request": request,
            "requiresAccessToken": False,
            "output": [
                {
                    "type": kind,
                    "url": ndjson_name(kind),
                    "count": self.outputs[kind].count,
                }
                for kind in listed
            ],
            "error": [],
            "extension": {
                CHECKS: {
                    "format": FORMAT,
                    "fhirVersion": "4.3.0",
                    "since": since.isoformat() if since else None,
                    "files": [
                        {
                            "url": ndjson_name(kind),
                            "sha256": self.outputs[kind].sha256.hexdigest(),
                            "size": self.outputs[kind].size,
                            "count": self.outputs[kind].count,
                        }
                        for kind in listed
                    ],
                }
            },
        }
        path = self.root / MANIFEST
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(json.dumps(manifest, indent=2).encode() + b"\n")
            file.flush()
            os.fsync(file.fileno())
