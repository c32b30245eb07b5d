"""PDF/A and B-LTA benchmark: what the archival form costs.

1. PDF/A render: ms per demo consent made PDF/A-3b (pikepdf rewrite, output intent, XMP,
   associated file) against the same render finished as before PDF/A (pypdf's incremental
   pass, `plain_finish` below), interleaved round by round; the ratio is the median of the
   rounds' ratios (target <= 1.2).
2. Seals: ms per seal at B-B (no TSA), B-T (self-signed, TSA) and B-LTA (a CA's certificate,
   TSA, OCSP and CRL), against the test PKI of tests/support/pki.py on loopback: the B-LTA figure
   holds two timestamp requests, an OCSP request and two CRL downloads, all on this machine.
3. `intake archive timestamp` at scale: an archive of N consents (100,000; 10,000 with
   BENCH_QUICK) whose expiries are known, of which 20 are due: the due lookup, and the whole
   run per renewed consent; and reading one PDF's expiry (what the first run does per consent).

    .venv/bin/python -m bench.bench_pdfa [--rounds 15] [--consents 100000]
"""

from __future__ import annotations

import argparse
import io
import logging
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from pypdf import PdfReader, PdfWriter
from pypdf.xmp import XmpInformation
from sqlalchemy import insert, select

from bench.measure import ROUNDS, Figure, demo_consent, median, ms_per_call, print_table, ratios
from intake.archive.audit import CLI, Actor
from intake.archive.migrate import upgrade
from intake.archive.models import Consent, ConsentTimestamp, utcnow
from intake.archive.service import Archive
from intake.archive.timestamps import due, renew_timestamps
from intake.certificates import clinic_signer
from intake.config import Config
from intake.definition import FormCatalog
from intake.pdf import ltv, render
from intake.pdf.metadata import ATTACHMENT_NAME, PRODUCER, document_metadata
from intake.pdf.seal import seal_pdf
from intake.submission import validate_submission
from tests.support.app import FORMS_DIR, demo_submission
from tests.support.pki import P12_PASSWORD, serve_pki

DOC_ID = "0b7c1d2e-3f40-4a5b-8c6d-7e8f9a0b1c2d"
RATIO_TARGET = 1.2
SIZES = (10_000, 100_000)
DUE = 20
TABLET = Actor(ip="192.0.2.7", user_agent="bench")


def plain_finish(pdf: bytes, definition, submission, document_id: str) -> bytes:
    """The consent's finishing pass before PDF/A: pypdf appends the metadata, XMP and the
    attachment as an incremental update."""
    writer = PdfWriter(PdfReader(io.BytesIO(pdf)), incremental=True)
    writer.metadata = None
    writer.add_metadata({**document_metadata(definition, document_id), "/Producer": PRODUCER})
    xmp = XmpInformation.create()
    xmp.dc_title = {"x-default": definition.title}
    xmp.dc_identifier = document_id
    writer.xmp_metadata = xmp
    writer.add_attachment(ATTACHMENT_NAME, submission.canonical_json())
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def render_figures(rounds: int) -> list[Figure]:
    definition, submission = demo_consent()
    pdfa_finish = render.finish_pdf

    def pdfa() -> bytes:
        render.finish_pdf = pdfa_finish
        return render.render_consent(definition, submission, document_id=DOC_ID)

    def plain() -> bytes:
        render.finish_pdf = plain_finish
        try:
            return render.render_consent(definition, submission, document_id=DOC_ID)
        finally:
            render.finish_pdf = pdfa_finish

    pdfa(), plain()
    pdfa_ms: list[float] = []
    plain_ms: list[float] = []
    for _ in range(rounds):
        ms_per_call(plain, plain_ms)
        ms_per_call(pdfa, pdfa_ms)
    ratio = ratios(pdfa_ms, plain_ms)
    print(f"pdfa: {rounds} rounds, render before PDF/A and PDF/A render interleaved")
    return [
        Figure("8 pdfa", "render before PDF/A (ms/PDF)", f"{median(plain_ms):.1f}"),
        Figure("8 pdfa", "render, PDF/A-3b (ms/PDF)", f"{median(pdfa_ms):.1f}"),
        Figure(
            "8 pdfa", "ratio PDF/A render / render before", f"{ratio:.2f}", f"<= {RATIO_TARGET}",
            ratio <= RATIO_TARGET,
        ),
    ]  # fmt: skip


def seal_figures(rounds: int, folder: Path) -> list[Figure]:
    definition, submission = demo_consent()
    rendered = render.render_consent(definition, submission, document_id=DOC_ID)
    with serve_pki(folder / "pki") as pki:
        self_signed = clinic_signer(folder / "self")
        ca = clinic_signer(folder / "ca", p12=pki.p12(), p12_password=P12_PASSWORD)
        tsa = pki.tsa_url()
        calls = {
            "B-B": lambda: seal_pdf(rendered, self_signed, reason="bench"),
            "B-T": lambda: seal_pdf(rendered, self_signed, reason="bench", timestamper_url=tsa),
            "B-LTA": lambda: seal_pdf(rendered, ca, reason="bench", timestamper_url=tsa),
        }
        times: dict[str, list[float]] = {level: [] for level in calls}
        for call in calls.values():
            call()
        for _ in range(rounds):
            for level, call in calls.items():
                ms_per_call(call, times[level])
    ratio = ratios(times["B-LTA"], times["B-B"])
    print(f"seals: {rounds} rounds of B-B, B-T, B-LTA on the loopback test PKI")
    return [
        *(
            Figure("8 pdfa", f"seal {level} (ms/PDF)", f"{median(ms):.1f}")
            for level, ms in times.items()
        ),
        Figure("8 pdfa", "ratio seal B-LTA / B-B", f"{ratio:.1f}"),
    ]


def timestamp_figures(count: int, folder: Path) -> list[Figure]:
    with serve_pki(folder / "pki", tsa_days=20) as pki:
        env = {
            "INSTANCE_PATH": str(folder / "instance"),
            "FORMS_DIR": str(FORMS_DIR),
            "SIGNING_P12": str(pki.p12()),
            "SIGNING_P12_PASSWORD": P12_PASSWORD,
            "TSA_URL": pki.tsa_url("tsa"),
        }
        config = Config(environ=env)
        upgrade(config.database_url)
        archive = Archive(config.archive_settings(), FormCatalog(FORMS_DIR))
        submission = validate_submission(demo_submission(), FormCatalog(FORMS_DIR))
        real = [archive.submit(submission, TABLET) for _ in range(DUE)]
        _copies(archive, real[0], count - DUE)
        started = time.perf_counter()
        renew_timestamps(archive, CLI, tsa_url=pki.tsa_url("tsa2"), within_days=0)
        read_s = time.perf_counter() - started
        pdf = archive.pdf(real[0])
        read_ms: list[float] = []
        for _ in range(20):
            ms_per_call(lambda: ltv.last_timestamp_expiry(pdf), read_ms)
        soon = utcnow() + timedelta(days=30)
        lookup_ms: list[float] = []
        for _ in range(5):
            ms_per_call(lambda: due(archive, soon), lookup_ms)
        assert len(due(archive, soon)) == DUE
        started = time.perf_counter()
        report = renew_timestamps(archive, CLI, tsa_url=pki.tsa_url("tsa2"), within_days=30)
        run_s = time.perf_counter() - started
        assert len(report.renewed) == DUE, report.failed
        archive.dispose()
    per = 1000 * run_s / DUE
    print(
        f"archive timestamp: {count} consents, {DUE} due; first run read {DUE} PDFs in "
        f"{read_s:.1f} s; renewal run {run_s:.1f} s"
    )
    lookup = f"{median(lookup_ms):.1f}"
    read = f"{median(read_ms):.1f}"
    return [
        Figure("8 pdfa", f"timestamp: find {DUE} due among {count:,} (ms)", lookup),
        Figure("8 pdfa", f"timestamp: run at {count:,}, per renewed consent (ms)", f"{per:.0f}"),
        Figure("8 pdfa", "timestamp: read one PDF's expiry, first run (ms/PDF)", read),
    ]


def _copies(archive: Archive, first: str, count: int) -> None:
    """`count` copies of a consent's row whose last timestamp is known to expire in 20 years:
    rows the lookup must pass over, as in an archive whose expiries were read before."""
    table = Consent.__table__
    with archive.transaction() as session:
        row = dict(session.execute(select(table).where(table.c.id == first)).mappings().one())
    row["submit_key"] = None
    far = utcnow() + timedelta(days=20 * 365)
    for start in range(0, count, 2000):
        ids = [f"{first[:18]}{n:014d}" for n in range(start, min(start + 2000, count))]
        with archive.transaction() as session:
            session.execute(insert(table), [{**row, "id": i} for i in ids])
            session.execute(
                insert(ConsentTimestamp.__table__),
                [
                    {"consent_id": i, "pdf_sha256": row["pdf_sha256"], "expires_at": far}
                    for i in ids
                ],
            )


def run(rounds: int = ROUNDS, sizes: tuple[int, ...] = SIZES) -> list[Figure]:
    logging.getLogger("intake.certificates").setLevel(logging.ERROR)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    figures = render_figures(rounds)
    with tempfile.TemporaryDirectory(prefix="bench-pdfa-") as scratch:
        figures += seal_figures(max(5, rounds // 2), Path(scratch))
        for count in sizes:
            with tempfile.TemporaryDirectory(prefix="bench-ts-") as folder:
                figures += timestamp_figures(count, Path(folder))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--consents", type=int, nargs="+", default=list(SIZES))
    args = parser.parse_args()
    print_table(run(args.rounds, tuple(args.consents)))


if __name__ == "__main__":
    main()
