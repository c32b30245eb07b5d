"""An archive of many consents with a distinct, really sealed PDF each, seeded in minutes.

Sealing 100,000 consents one by one would take over an hour of CPU here (render and seal are
about 70 ms a consent). So a few consents are submitted for real (rendered, sealed, stored,
audited: `DISTINCT` of them), and every other consent is a copy of one of them whose bytes
differ in the seal's unused room: pyHanko reserves more room in the signature's `/Contents`
than the CMS signature takes and pads it with zeros; the copy carries its number there, in the
last 16 hex digits of the padding. Those bytes are outside what the seal's digest covers and
after the end of the DER signature, so each copy is a different file (its own SHA-256, its own
file in the store, its own member in a backup or an export) whose seal still validates, checked
by pyHanko's validator in full (`check_seal` is run on a copy before seeding goes on). Each copy
gets a row of its own (the original's row with a new id and the copy's SHA-256), and the audit
trail gets 4.5 rows a consent (what ten years of a busy clinic hold: the issue's 450,000 rows at
100,000 consents), chained by the writer's own hashing.

What the batch commands then do is real for every consent: a backup encrypts and hashes every
PDF, a restore puts each back, an export copies each, and export verify checks every seal. Only
one verdict differs from real consents: the sealed document id of a copy is its original's, so
export verify names the copies' ids as not those sealed (after doing every check).
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

from sqlalchemy import insert, select

from bench.bench_backup import TABLET
from intake.archive.blobs import FileBlobs
from intake.archive.models import Consent, PdfBlob
from intake.archive.service import Archive
from intake.definition import FormCatalog
from intake.pdf.seal import check_seal
from intake.submission import validate_submission
from tests.support.app import FORMS_DIR, demo_submission
from tests.support.audit_rows import seed_audit_rows

#: How many consents are rendered and sealed for real; the others are copies of these.
DISTINCT = 8
#: Audit rows a consent, on average, in the seeded archive.
AUDIT_ROWS_PER_CONSENT = 4.5
BATCH = 2000
#: The tag's width in hex digits, at the end of the signature's zero padding.
TAG_DIGITS = 16


def tagged(pdf: bytes, number: int) -> bytes:
    """The sealed `pdf` with `number` in the zero padding at the end of its seal's /Contents."""
    start = pdf.rindex(b"/Contents <")
    end = pdf.index(b">", start)
    assert pdf[end - TAG_DIGITS : end] == b"0" * TAG_DIGITS, "no zero padding to tag"
    return pdf[: end - TAG_DIGITS] + b"%016x" % number + pdf[end:]


def seed_consents(archive: Archive, count: int) -> float:
    """`count` archived consents, each with a PDF of its own, and their audit rows; seconds."""
    started = time.perf_counter()
    catalog = FormCatalog(FORMS_DIR)
    data = demo_submission()
    originals = [
        archive.submit(
            validate_submission(
                {**data, "signed_at": f"2026-01-{1 + n:02d}T10:00:00-05:00"}, catalog
            ),
            TABLET,
        )
        for n in range(min(DISTINCT, count))
    ]
    table = Consent.__table__
    with archive.transaction() as session:
        rows = [
            dict(session.execute(select(table).where(table.c.id == i)).mappings().one())
            for i in originals
        ]
    pdfs = [archive.pdf(i) for i in originals]
    trusted = [archive.signer().certificate]
    assert check_seal(tagged(pdfs[0], 1), trusted).holds, "a tagged copy's seal must hold"
    files = archive.settings.storage == "files"
    store = FileBlobs(archive.settings.files_dir)
    batch: list[dict] = []
    blobs: list[dict] = []
    for n in range(len(originals), count):
        pdf = tagged(pdfs[n % len(pdfs)], n)
        sha256 = hashlib.sha256(pdf).hexdigest()
        if files:
            path = store.path(sha256)
            path.parent.mkdir(mode=0o700, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(fd, pdf)
            finally:
                os.close(fd)
        else:
            blobs.append({"sha256": sha256, "data": pdf})
        row = rows[n % len(rows)]
        batch.append({**row, "id": f"{row['id'][:20]}{n:012d}", "pdf_sha256": sha256,
                      "submit_key": None})  # fmt: skip
        if len(batch) == BATCH or n == count - 1:
            with archive.transaction() as session:
                if blobs:
                    session.execute(insert(PdfBlob), blobs)
                session.execute(insert(table), batch)
            batch, blobs = [], []
    seed_audit_rows(archive, max(0, int(count * AUDIT_ROWS_PER_CONSENT) - 6 * len(originals)))
    return time.perf_counter() - started


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
