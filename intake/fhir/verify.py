"""`intake export verify FOLDER`: check a FHIR export against its manifest, trusting nothing.

Checked: the manifest is ours (Bulk Data shape, our checks in its `extension`); every NDJSON
file it lists has the SHA-256, size and line count it records, and each line is a resource of
that file's type with an id; every relative reference (`Type/id`) names a resource in the
export, every contained one (`#id`) a resource contained in the same one, and every
QuestionnaireResponse's `questionnaire` (`url|version`) a Questionnaire there; every PDF an
attachment names is in the folder with that size, SHA-1 (`hash`) and SHA-256 (extension), its
seal holds against the trusted certificates, its sealed document id is the one its file name
gives, and a consent's response names the legal name, birth date and signing time sealed in its
`submission.json`; and no file is in the folder that nothing lists.

Streaming: each file is read line by line; the ids, references and attachments go into a SQLite
file in a temporary folder rather than into memory, and the seals are checked by a process a core
(`intake.archive.export_seals`), a bounded window of PDFs at a time.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from intake.archive.export_seals import SealJob, seal_checker
from intake.certificates import ClinicCertificate
from intake.fhir.folder import CHECKS, FORMAT, MANIFEST, TYPES
from intake.fhir.resources import DOCUMENTS_FOLDER, ID_SYSTEM, SHA256_EXTENSION
from intake.progress import NO_PROGRESS, Progress

_ID = re.compile(r"[A-Za-z0-9.-]{1,64}")
_RELATIVE = re.compile(r"[A-Z][A-Za-z]+/[A-Za-z0-9.-]{1,64}")
_DOCUMENT = re.compile(rf"{DOCUMENTS_FOLDER}/([0-9a-f]{{32}})\.pdf")
#: How many unresolved references are named (the rest are counted).
NAMED = 50


@dataclass
class FhirCheck:
    """What checking a FHIR export found: how many resources and PDFs, and every problem."""

    resources: int = 0
    documents: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def holds(self) -> bool:
        return not self.problems


def verify_fhir_export(
    folder: Path,
    trusted: list[ClinicCertificate],
    progress: Progress = NO_PROGRESS,
    *,
    workers: int | None = None,
) -> FhirCheck:
    check = FhirCheck()
    outputs = _manifest_outputs(folder, check)
    if outputs is None:
        return check
    progress.start(sum(count for _, _, count, _ in outputs))
    with tempfile.TemporaryDirectory() as tmp:
        db = sqlite3.connect(Path(tmp) / "refs.sqlite3")
        try:
            _tables(db)
            for resource_type, url, count, listed in outputs:
                _check_file(db, folder, resource_type, url, count, listed, check, progress)
            db.commit()
            _check_references(db, check)
            _check_documents(db, folder, trusted, workers, check)
            _check_unlisted(db, folder, [url for _, url, _, _ in outputs], check)
        finally:
            db.close()
    return check


def _manifest_outputs(
    folder: Path, check: FhirCheck
) -> list[tuple[str, str, int, dict[str, Any]]] | None:
    """(type, url, count, our check's entry) of each listed file, or None (problem noted)."""
    try:
        manifest = json.loads((folder / MANIFEST).read_bytes())
    except FileNotFoundError:
        check.problems.append(f"no {MANIFEST} in the folder: not a finished FHIR export")
        return None
    except (OSError, ValueError) as exc:
        check.problems.append(f"{MANIFEST} is not readable JSON: {exc}")
        return None
    ours = manifest.get("extension", {}).get(CHECKS) if isinstance(manifest, dict) else None
    if not isinstance(ours, dict) or ours.get("format") != FORMAT:
        check.problems.append(f"{MANIFEST} is not a FHIR export manifest of format {FORMAT}")
        return None
    if not isinstance(manifest.get("transactionTime"), str) or not manifest.get("request"):
        check.problems.append(f"{MANIFEST}: needs a transactionTime and a request")
    files = {f.get("url"): f for f in ours.get("files", []) if isinstance(f, dict)}
    found = []
    for entry in manifest.get("output") or []:
        kind, url, count = (entry.get(k) for k in ("type", "url", "count"))
        if kind not in TYPES or url != f"{kind}.ndjson" or not isinstance(count, int):
            check.problems.append(f"{MANIFEST}: an output entry is not a type, url and count")
            continue
        if url not in files:
            check.problems.append(f"{url}: the manifest records no SHA-256 for it")
            continue
        found.append((kind, url, count, files[url]))
    return found


def _tables(db: sqlite3.Connection) -> None:
    db.executescript(
        """
        CREATE TABLE ids (key TEXT PRIMARY KEY);
        CREATE TABLE refs (key TEXT, source TEXT);
        CREATE TABLE docs (url TEXT, size INTEGER, sha1 TEXT, sha256 TEXT, source TEXT);
        CREATE INDEX docs_url ON docs (url);
        CREATE TABLE responses (id TEXT PRIMARY KEY, entry TEXT);
        """
    )


def _check_file(
    db: sqlite3.Connection,
    folder: Path,
    resource_type: str,
    url: str,
    count: int,
    listed: dict[str, Any],
    check: FhirCheck,
    progress: Progress,
) -> None:
    digest = hashlib.sha256()
    lines = size = 0
    try:
        with open(folder / url, "rb") as file:
            for line in file:
                digest.update(line)
                lines += 1
                size += len(line)
                _check_line(db, resource_type, url, lines, line, check)
                progress.advance()
    except FileNotFoundError:
        check.problems.append(f"{url}: missing from the folder")
        return
    if digest.hexdigest() != listed.get("sha256") or size != listed.get("size"):
        check.problems.append(f"{url}: not the file the manifest records (SHA-256 or size)")
    if lines != count or lines != listed.get("count"):
        check.problems.append(f"{url}: {lines} resources, the manifest says {count}")
    check.resources += lines


def _check_line(
    db: sqlite3.Connection,
    resource_type: str,
    url: str,
    number: int,
    line: bytes,
    check: FhirCheck,
) -> None:
    where = f"{url} line {number}"
    try:
        resource = json.loads(line)
    except ValueError:
        check.problems.append(f"{where}: not JSON")
        return
    if not isinstance(resource, dict) or resource.get("resourceType") != resource_type:
        check.problems.append(f"{where}: not a {resource_type}")
        return
    resource_id = resource.get("id")
    if not isinstance(resource_id, str) or not _ID.fullmatch(resource_id):
        check.problems.append(f"{where}: has no valid id")
        return
    key = f"{resource_type}/{resource_id}"
    try:
        db.execute("INSERT INTO ids VALUES (?)", (key,))
    except sqlite3.IntegrityError:
        check.problems.append(f"{where}: {key} is in the export twice")
    if resource_type == "Questionnaire":
        db.execute(
            "INSERT OR IGNORE INTO ids VALUES (?)",
            (f"canonical:{resource.get('url')}|{resource.get('version')}",),
        )
    elif resource_type == "QuestionnaireResponse":
        db.execute(
            "INSERT INTO refs VALUES (?, ?)", (f"canonical:{resource.get('questionnaire')}", key)
        )
        if _is_consents(resource):
            db.execute(
                "INSERT OR IGNORE INTO responses VALUES (?, ?)",
                (resource_id, json.dumps(_signed_entry(resource))),
            )
    contained = {c.get("id") for c in resource.get("contained", []) if isinstance(c, dict)}
    for ref in _references(resource):
        if ref.startswith("#"):
            if ref[1:] not in contained:
                check.problems.append(f"{key}: {ref} is not contained in it")
        elif _RELATIVE.fullmatch(ref):
            db.execute("INSERT INTO refs VALUES (?, ?)", (ref, key))
        else:
            check.problems.append(f"{key}: a reference is not of the form Type/id")
    for attachment in _attachments(resource):
        db.execute(
            "INSERT INTO docs VALUES (?, ?, ?, ?, ?)",
            (
                attachment.get("url"),
                attachment.get("size"),
                attachment.get("hash"),
                _sha256_of(attachment),
                key,
            ),
        )


def _is_consents(response: dict[str, Any]) -> bool:
    """Whether a response is a consent's (a check-in's is a course record's)."""
    found = response.get("identifier")
    return isinstance(found, dict) and found.get("system") == f"{ID_SYSTEM}consent"


def _signed_entry(response: dict[str, Any]) -> dict[str, Any]:
    """What a consent's response says of who signed and when, to hold against its sealed PDF's
    `submission.json` (the fields the zip's manifest carries)."""
    answers: dict[str, Any] = {}
    stack = list(response.get("item") or [])
    while stack:
        item = stack.pop()
        if not isinstance(item, dict):
            continue
        stack.extend(item.get("item") or [])
        for answer in item.get("answer") or []:
            if isinstance(answer, dict):
                answers[item.get("linkId")] = answer.get("valueString", answer.get("valueDate"))
    return {
        "id": response.get("id"),
        "legal_name": answers.get("patient.legal_name"),
        "date_of_birth": answers.get("patient.date_of_birth"),
        "signed_at": response.get("authored"),
    }


def _references(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "reference" and isinstance(inner, str):
                yield inner
            elif key != "contained":
                yield from _references(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _references(inner)


def _attachments(resource: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if resource["resourceType"] == "Consent" and isinstance(resource.get("sourceAttachment"), dict):
        yield resource["sourceAttachment"]
    if resource["resourceType"] == "DocumentReference":
        for content in resource.get("content") or []:
            if isinstance(content, dict) and isinstance(content.get("attachment"), dict):
                yield content["attachment"]


def _sha256_of(attachment: dict[str, Any]) -> str | None:
    for extension in attachment.get("extension") or []:
        if isinstance(extension, dict) and extension.get("url") == SHA256_EXTENSION:
            return extension.get("valueBase64Binary")
    return None


def _check_references(db: sqlite3.Connection, check: FhirCheck) -> None:
    rows = db.execute(
        "SELECT refs.key, refs.source FROM refs LEFT JOIN ids ON ids.key = refs.key "
        "WHERE ids.key IS NULL ORDER BY refs.source, refs.key"
    )
    unresolved = 0
    for target, source in rows:
        unresolved += 1
        if unresolved <= NAMED:
            target = target.removeprefix("canonical:")
            check.problems.append(f"{source}: {target} is not in the export")
    if unresolved > NAMED:
        check.problems.append(f"and {unresolved - NAMED} more references not in the export")


def _check_documents(
    db: sqlite3.Connection,
    folder: Path,
    trusted: list[ClinicCertificate],
    workers: int | None,
    check: FhirCheck,
) -> None:
    with seal_checker(trusted, workers) as checker:
        for problems in checker.problems(_documents(db, folder, check)):
            check.problems.extend(problems)


def _documents(db: sqlite3.Connection, folder: Path, check: FhirCheck) -> Iterator[SealJob]:
    """Each PDF the resources name, once: its bytes for the seal check when it is the file they
    describe, else what is wrong with it."""
    rows = db.execute(
        "SELECT url, size, sha1, sha256, COUNT(DISTINCT size || ' ' || sha1 || ' ' || sha256) "
        "FROM docs GROUP BY url ORDER BY url"
    )
    for url, size, sha1, sha256, versions in rows:
        name = str(url)
        found = _DOCUMENT.fullmatch(name)
        if found is None:
            yield SealJob(name, {}, None, [f"{name}: not a document of this export"], "record")
            continue
        check.documents += 1
        entry = {"id": found.group(1)}
        if versions != 1:
            yield SealJob(
                name, entry, None, [f"{name}: its resources disagree on its hash"], "record"
            )
            continue
        try:
            pdf = (folder / name).read_bytes()
        except FileNotFoundError:
            yield SealJob(name, entry, None, [f"{name}: missing from the folder"], "record")
            continue
        problems = []
        if len(pdf) != size:
            problems.append(f"{name}: {len(pdf)} bytes, its resources say {size}")
        if _b64(hashlib.sha1(pdf).digest()) != sha1:
            problems.append(f"{name}: its SHA-1 is not the one its resources give")
        if _b64(hashlib.sha256(pdf).digest()) != sha256:
            problems.append(f"{name}: its SHA-256 is not the one its resources give")
        signed = db.execute("SELECT entry FROM responses WHERE id = ?", (entry["id"],)).fetchone()
        if signed is None:
            yield SealJob(name, entry, None if problems else pdf, problems, "record")
        else:
            # A consent: its seal, and its response's signer and time against the sealed ones.
            consent = json.loads(signed[0])
            yield SealJob(name, consent, None if problems else pdf, problems, "consent")


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def _check_unlisted(
    db: sqlite3.Connection, folder: Path, outputs: list[str], check: FhirCheck
) -> None:
    listed = {MANIFEST, *outputs}
    for root, _dirs, files in os.walk(folder):
        for name in sorted(files):
            relative = (Path(root) / name).relative_to(folder).as_posix()
            if relative in listed:
                continue
            named = db.execute("SELECT 1 FROM docs WHERE url = ? LIMIT 1", (relative,)).fetchone()
            if named is None:
                check.problems.append(f"{relative}: in the folder, but nothing lists it")
