"""The seal checks of an export's PDFs, spread over every core.

Checking a seal (pyHanko: parse the PDF, hash what the seal covers, check the CMS signature and
its certificate) takes some 20 ms of CPU a PDF; reading a member of the zip is a fraction of a
millisecond. So `export verify` reads each member in its own process and hands its bytes to a
pool of worker processes (one a core), a bounded window at a time, and takes their answers
back in the manifest's order: memory stays a window's PDFs, whatever the export's size.
"""

from __future__ import annotations

import io
import json
import os
import unicodedata
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509
from pypdf import PdfReader
from pypdf.errors import PyPdfError

from intake.certificates import ClinicCertificate
from intake.pdf.metadata import ATTACHMENT_NAME
from intake.pdf.seal import check_seal, document_id

#: The manifest's fields about the patient, each read back from the sealed `submission.json`.
SEALED_FIELDS = ("legal_name", "date_of_birth", "signed_at")
#: How many PDFs may wait for a worker, for each worker.
WINDOW_PER_WORKER = 8

#: The certificates a worker process trusts (set once when it starts).
_trusted: list[ClinicCertificate] = []


def _start_worker(pems: list[bytes]) -> None:
    _trusted[:] = [ClinicCertificate.of(x509.load_pem_x509_certificate(pem)) for pem in pems]


@dataclass(frozen=True)
class SealJob:
    """One member of an export: its name, manifest entry, and its bytes when they are the file
    listed (then its seal is checked); else what is wrong with it already."""

    name: str
    entry: dict[str, Any]
    pdf: bytes | None
    problems: list[str]
    #: "consent", or "record" (a course record: its seal and document id are checked).
    kind: str = "consent"


def _check(name: str, entry: dict[str, Any], pdf: bytes, kind: str) -> list[str]:
    if kind == "record":
        return record_problems(name, entry, pdf, _trusted)
    return sealed_problems(name, entry, pdf, _trusted)


class _InProcess(Executor):
    """One core: the checks run where they are asked for."""

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def]
        future: Future[Any] = Future()
        future.set_result(fn(*args, **kwargs))
        return future


@contextmanager
def seal_checker(
    trusted: list[ClinicCertificate], workers: int | None = None
) -> Iterator[SealChecker]:
    """A checker with a process a core (`workers`: how many; 1 checks in this process)."""
    workers = workers or os.cpu_count() or 1
    pems = [certificate.pem for certificate in trusted]
    if workers == 1:
        _start_worker(pems)
        yield SealChecker(_InProcess(), 1)
        return
    with ProcessPoolExecutor(workers, initializer=_start_worker, initargs=(pems,)) as pool:
        yield SealChecker(pool, workers)


class SealChecker:
    def __init__(self, pool: Executor, workers: int) -> None:
        self.pool, self.window = pool, WINDOW_PER_WORKER * workers

    def problems(self, jobs: Iterable[SealJob]) -> Iterator[list[str]]:
        """The problems of each member, in the jobs' order."""
        waiting: deque[Future[list[str]]] = deque()
        for job in jobs:
            if job.pdf is None:
                done: Future[list[str]] = Future()
                done.set_result(job.problems)
                waiting.append(done)
            else:
                waiting.append(self.pool.submit(_check, job.name, job.entry, job.pdf, job.kind))
            if len(waiting) >= self.window:
                yield waiting.popleft().result()
        while waiting:
            yield waiting.popleft().result()


def sealed_problems(
    name: str, entry: dict[str, Any], pdf: bytes, trusted: list[ClinicCertificate]
) -> list[str]:
    """The PDF's seal, and the manifest's id and patient against the sealed document's."""
    report = check_seal(pdf, trusted)
    problems = [f"{name}: {problem}" for problem in report.problems]
    if not report.holds:
        return problems
    sealed_id = document_id(pdf, report)
    if sealed_id != entry.get("id"):
        problems.append(
            f"{name}: the manifest names consent {entry.get('id')}, the sealed document is "
            f"{sealed_id}"
        )
    submission = _sealed_submission(pdf)
    if submission is None:
        problems.append(f"{name}: the sealed PDF carries no readable {ATTACHMENT_NAME}")
        return problems
    patient = submission.get("patient") if isinstance(submission.get("patient"), dict) else {}
    sealed = {
        "legal_name": _text(patient.get("legal_name")),
        "date_of_birth": _text(patient.get("date_of_birth")),
        "signed_at": _instant(submission.get("signed_at")),
    }
    listed = {
        "legal_name": _text(entry.get("legal_name")),
        "date_of_birth": _text(entry.get("date_of_birth")),
        "signed_at": _instant(entry.get("signed_at")),
    }
    # The field is named, never its value: the output may be read where patient data may not.
    problems.extend(
        f"{name}: the manifest's {field_name} is not the one sealed in the PDF"
        for field_name in SEALED_FIELDS
        if sealed[field_name] is None or sealed[field_name] != listed[field_name]
    )
    return problems


def record_problems(
    name: str, entry: dict[str, Any], pdf: bytes, trusted: list[ClinicCertificate]
) -> list[str]:
    """A course record PDF's seal, and that the sealed document is the record listed."""
    report = check_seal(pdf, trusted)
    problems = [f"{name}: {problem}" for problem in report.problems]
    if report.holds and (sealed_id := document_id(pdf, report)) != entry.get("id"):
        problems.append(
            f"{name}: the manifest names record {entry.get('id')}, the sealed document is "
            f"{sealed_id}"
        )
    return problems


def _sealed_submission(pdf: bytes) -> dict[str, Any] | None:
    """The submission attached to a (sealed) consent PDF, or None."""
    try:
        attached = PdfReader(io.BytesIO(pdf)).attachments.get(ATTACHMENT_NAME)
        data = json.loads(attached[0]) if attached else None
    except (PyPdfError, ValueError, OSError, KeyError):
        return None
    return data if isinstance(data, dict) else None


def _text(value: Any) -> str | None:
    """A name or date as the archive keeps it (NFC, trimmed), or None."""
    return unicodedata.normalize("NFC", value).strip() if isinstance(value, str) else None


def _instant(value: Any) -> datetime | None:
    """A signing time, so that two spellings of one instant and offset compare equal."""
    try:
        return datetime.fromisoformat(value.strip()) if isinstance(value, str) else None
    except ValueError:
        return None
