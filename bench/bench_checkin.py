"""Check-in benchmark: ms for a visit check-in's submit alone (accept the record with the visit,
lay out its one page, seal it, store it), against a consent's submit (the same store path with a
five-page PDF) and against laying out and sealing the check-in's page without storing it.

A SQLite archive in a temporary folder holds one archived demo consent and its patient, and one
enrolled tablet per check-in with a visit open on it. Each round checks in on the next tablet
(the submit, as the tablet's POST calls it) and, interleaved, submits the demo consent and lays
out and seals the check-in's page alone: the ratios are of figures taken side by side, so they
hold on a busy machine, where the milliseconds do not.

    .venv/bin/python -m bench.bench_checkin [--rounds 15]
"""

from __future__ import annotations

import argparse
import io
import logging
import tempfile
import time
from pathlib import Path

from pypdf import PdfReader

from bench.measure import ROUNDS, Figure, median, print_table, ratios
from intake.archive.audit import Actor
from intake.archive.migrate import upgrade
from intake.archive.models import Consent
from intake.archive.records import body_of
from intake.archive.service import Archive, ArchiveSettings
from intake.archive.tablets import Tablets
from intake.archive.visits import Visits, visit_page
from intake.checkin import validate_checkin
from intake.config import PROJECT_ROOT
from intake.definition import FormCatalog
from intake.pdf.record import ConsentReference, record_reason, render_record
from intake.pdf.seal import seal_pdf
from intake.submission import validate_submission
from tests.support.app import demo_submission

SUBMIT_TARGET_MS = 60
#: A check-in's submit against a consent's (both accept, seal and store; the consent has five
#: pages, the check-in one).
CONSENT_RATIO_TARGET = 0.75
#: What the store adds to laying out and sealing: two durable commits and a durable file.
RATIO_TARGET = 2
DESK = Actor(user_agent="bench: the front desk")
TABLET = Actor(user_agent="bench: the tablet")
DEVICE = {"user_agent": "Mozilla/5.0 (iPad)", "ip": "192.0.2.7"}


def checkin_data(definition) -> dict:
    data = demo_submission()
    answers = {q.id: {"yes": False} for q in definition.visit_screening}
    return {"answers": answers, "signature": data["signature"], "signed_at": data["signed_at"]}


def run(rounds: int = ROUNDS) -> list[Figure]:
    logging.getLogger("intake.certificates").setLevel(logging.ERROR)
    catalog = FormCatalog(PROJECT_ROOT / "forms")
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        url = f"sqlite:///{root}/archive.sqlite3"
        upgrade(url)
        settings = ArchiveSettings(
            database_url=url, files_dir=root / "archive", certificates_dir=root / "certificates"
        )
        archive = Archive(settings, catalog)
        try:
            consent_id = archive.submit(validate_submission(demo_submission(), catalog), DESK)
            consent = archive.get(consent_id)
            definition = catalog.get(consent.form_id)
            visits = Visits(archive)
            tablets = Tablets(archive)
            opened = []
            for number in range(rounds + 1):
                tablet = tablets.enrol_directly(f"Tablet {number}", DESK, enrolled_by=None).tablet
                visit = visits.start(consent.patient_id, tablet.id, DESK, today=consent.signed_on)
                opened.append((visit.id, tablet.id))
            clinic = archive.signer()

            def submit(visit_id: str, tablet_id: str) -> str:
                # What the tablet's POST does after its form checks: validate, then store.
                checkin = validate_checkin(checkin_data(definition), definition)
                return visits.check_in(visit_id, tablet_id, checkin, TABLET, device=DEVICE)

            first = submit(*opened[0])  # warm: fonts, the renderer, the signer
            record = archive.records.get(first)
            with archive.sessions() as session:
                page = visit_page(
                    record, body_of(record), session.get(Consent, consent_id), definition
                )
            reference = ConsentReference(consent.id, consent.pdf_sha256 or "")

            def layout_and_seal() -> bytes:
                pdf = render_record(
                    page, record.body_json or b"", document_id=record.id, consent=reference,
                    settings=settings.render, seal=clinic.certificate,
                )  # fmt: skip
                return seal_pdf(pdf, clinic, reason=record_reason("visit", record.id))

            submission = validate_submission(demo_submission(), catalog)
            submit_ms: list[float] = []
            alone_ms: list[float] = []
            consent_ms: list[float] = []
            for visit_id, tablet_id in opened[1:]:
                started = time.perf_counter()
                archive.submit(submission, DESK)
                consent_ms.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                layout_and_seal()
                alone_ms.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                record_id = submit(visit_id, tablet_id)
                submit_ms.append((time.perf_counter() - started) * 1000)
            last = archive.records.pdf(record_id)
            pages = len(PdfReader(io.BytesIO(last)).pages)
            holds = archive.check(last).holds
        finally:
            archive.dispose()
    submit_median = median(submit_ms)
    ratio = ratios(submit_ms, alone_ms)
    against_consent = ratios(submit_ms, consent_ms)
    print(
        f"check-in: {rounds} rounds, check-in submit, consent submit and layout + seal "
        f"interleaved; the visit PDF has {pages} page(s)"
    )
    return [
        Figure(
            "8 check-in", "visit check-in submit, SQLite, files (ms)", f"{submit_median:.1f}",
            f"< {SUBMIT_TARGET_MS}", submit_median < SUBMIT_TARGET_MS,
        ),
        Figure("8 check-in", "a consent's submit, same archive (ms)", f"{median(consent_ms):.1f}"),
        Figure(
            "8 check-in", "ratio check-in submit / consent submit", f"{against_consent:.2f}",
            f"<= {CONSENT_RATIO_TARGET}", against_consent <= CONSENT_RATIO_TARGET,
        ),
        Figure("8 check-in", "its page laid out and sealed alone (ms)", f"{median(alone_ms):.1f}"),
        Figure(
            "8 check-in", "ratio submit / (layout + seal)", f"{ratio:.2f}", f"<= {RATIO_TARGET}",
            ratio <= RATIO_TARGET,
        ),
        Figure(
            "8 check-in", "pages of the visit PDF, seal holds", f"{pages}, {holds}", "1, True",
            pages == 1 and holds,
        ),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    print_table(run(parser.parse_args().rounds))


if __name__ == "__main__":
    main()
