"""Render benchmark: ms per demo consent, against a bare reportlab script (the floor) and HTML.

The floor lays out the same text (every consent paragraph, item and answer) with the same fonts
as plain Platypus paragraphs: no tables, no signature, no footer, no pypdf pass. The HTML route
is WeasyPrint rendering the same consent from HTML and CSS (`html_consent.py`). All three run in
this process, interleaved round by round, and each ratio is the median of the rounds' ratios, so
it is fair on a noisy machine.

Ours is warm: the form's own paragraphs parsed, line-broken and drawn once per form text,
language and page size (`intake/pdf/layout_cache.py`), the pages of its consent text, side
effects and acknowledgments laid out once and replayed (`intake/pdf/fixed_pages.py`), the font
subsets and the preview mark made once. Beside it, in the same rounds: the cold render (every
cache dropped before each call, as a fresh process's first consent of a form), the render the
archive seals (the seal named, no preview mark), and the PDF's size now against its size before
(`BEFORE_BYTES`). Before the timing, the run checks that a cold render and a warm one are the
same bytes. Then the same four again on CPU time (`time.process_time`), in rounds of their own,
interleaved: wall-clock milliseconds swing with the machine's load, CPU time much less.

    .venv/bin/python -m bench.bench_render [--rounds 15] [--profile N]

`--profile N` renders N demo consents and N floors under pyinstrument instead, and prints where
the time goes in each.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import time
from collections import Counter
from collections.abc import Callable

from pypdf import PdfReader
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import inch
from reportlab.platypus import Paragraph, SimpleDocTemplate

from bench.measure import (
    PER_ROUND,
    ROUNDS,
    Figure,
    demo_consent,
    median,
    ms_per_call,
    print_table,
    ratios,
)
from intake.certificates import ClinicCertificate
from intake.definition import ConsentDefinition
from intake.pdf import metadata, render_consent
from intake.pdf.bullets import forget_bullets
from intake.pdf.fonts import BODY, BOLD, forget_subsets, register_fonts
from intake.pdf.layout_cache import forget_layouts
from intake.pdf.outline import outline_code
from intake.pdf.render import MARGIN, patient_rows, preview_underlay, signed_time
from intake.pdf.text import pdf_text
from intake.submission import Submission

DOC_ID = "0b7c1d2e-3f40-4a5b-8c6d-7e8f9a0b1c2d"


def same_text(definition: ConsentDefinition, submission: Submission) -> list[tuple[bool, str]]:
    """Every piece of text the consent PDF carries, in order, each with whether it is bold:
    headings, labels, answers, the consent text, the signature rows, the Signing record page.

    Left out: the page footers, the bullets and the check boxes (glyphs, not text), and the
    seal's rows (the demo render has no seal). `check()` compares the words of both PDFs.
    """
    p = submission.patient
    document_id = DOC_ID
    signed = signed_time(submission.signed_at)
    out: list[tuple[bool, str]] = [
        (True, definition.clinic_name),
        (True, definition.title),
        (False, f"Form {definition.id}, version {definition.version} · Document {document_id}"),
        (False, definition.purpose),
    ]
    flags = submission.flags(definition)
    if flags:
        out.append((True, f"Clinician review required: {len(flags)} screening answer(s) below."))

    def rows(pairs: list[tuple[str, str]]) -> None:
        for label, value in pairs:
            out.extend([(True, label), (False, value or "—")])

    out.append((True, "Patient details"))
    rows([(label, str(value)) for label, value in patient_rows(p)])
    out.append((True, "Health history"))
    rows(
        [
            ("Allergies", submission.health.allergies),
            ("Medications and supplements", submission.health.medications),
            ("Conditions", submission.health.conditions),
        ]
    )
    out.append((True, "Screening questions"))
    answers = dict(submission.screening)
    for q in definition.screening:
        if answers.get(q.id):
            rows([("Yes", f"{q.question}\nClinician review required ({q.level.upper()})")])
        else:
            rows([("No", q.question)])
    for section in definition.sections:
        out.append((True, section.heading))
        out += [(False, text) for text in (*section.paragraphs, *section.items)]
    for tier in definition.side_effects:
        out.append((True, tier.heading))
        if tier.headline:
            out.append((True, tier.headline))
        out += [(False, text) for text in (tier.intro, *tier.items)]
        out.append((False, f"What to do: {tier.action}"))
    out.append((True, "Acknowledgments"))
    out += [(False, a.text) for a in definition.acknowledgments]
    out += [(True, "Patient signature"), (False, definition.signature.meaning)]
    rows([("Printed name", submission.typed_name), ("Signed", signed)])
    out += [(True, "Clinician"), (False, definition.signature.clinician_line)]
    out += [(False, "Clinician name"), (False, "Signature"), (False, "Date")]
    signature = submission.signature
    out += [
        (True, "Signing record"),
        (
            False,
            "How and when this consent was signed, and the fingerprints that identify exactly "
            "which text was shown and what was submitted.",
        ),
    ]
    rows(
        [
            ("Document id", document_id),
            ("Signed at", signed),
            ("Signed by", submission.typed_name),
            ("Guardian", ""),
            ("Device", submission.device.user_agent),
            ("IP address", submission.device.ip),
            ("Form", f"{definition.id}, version {definition.version}"),
            ("Form text SHA-256", definition.sha256),
            ("Submission SHA-256", submission.sha256),
            (
                "Signature strokes",
                f"patient: {len(signature.strokes)} strokes, {signature.point_count} points",
            ),
            ("Submitted data", "attached to this PDF as submission.json"),
        ]
    )
    return out


def floor_render(texts: list[tuple[bool, str]]) -> bytes:
    """A bare reportlab script: the same text as plain paragraphs in the same fonts (bold where
    ours is bold), the same page size and margins; no table, drawing, footer or pypdf pass."""
    buffer = io.BytesIO()
    body = ParagraphStyle("body", fontName=BODY, fontSize=9.5, leading=13, spaceAfter=4)
    bold = ParagraphStyle("bold", body, fontName=BOLD)
    SimpleDocTemplate(
        buffer, pagesize=LETTER, leftMargin=MARGIN, rightMargin=MARGIN,
        topMargin=0.7 * inch, bottomMargin=0.8 * inch,
    ).build([Paragraph(pdf_text(t), bold if b else body) for b, t in texts])  # fmt: skip
    return buffer.getvalue()


def words(pdf: bytes) -> Counter[str]:
    """The words of a PDF's text, as pypdf extracts them."""
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    return Counter(re.findall(r"\w+", text))


def pages(pdf: bytes) -> int:
    return len(PdfReader(io.BytesIO(pdf)).pages)


def coverage(ours: bytes, other: bytes, name: str) -> str:
    """Which words of our PDF the other PDF lacks, and which it has that ours does not."""
    a, b = words(ours), words(other)
    missing, extra = a - b, b - a
    return (
        f"render: {name} ({pages(other)} pages) carries {1 - missing.total() / a.total():.1%} "
        f"of our {a.total():,} words ({pages(ours)} pages); lacks: "
        f"{' '.join(sorted(missing.elements())) or 'none'}; has more: "
        f"{' '.join(sorted(extra.elements())) or 'none'}"
    )


#: Target: our render at most this many times the floor.
FLOOR_TARGET = 1.5
#: Target: a warm render (the form's layout kept, `layout_cache.py`) at most this many times
#: the floor.
CACHED_TARGET = 0.5
#: The demo consent's size before the form's layout was kept and the preview mark shared
#: (commit a05655d, measured with this bench's inputs): the preview, and the file the archive
#: renders before sealing it (seal named, no preview mark).
BEFORE_BYTES = {"preview": 106_712, "sealed": 61_165}
#: Named on the Signing record page as the archive's renders name it.
SEAL = ClinicCertificate(subject="CN=Skin Heaven Medical Spa", sha256="ab" * 32, certificate=None)
#: Target: the HTML route at least this many times slower than ours.
HTML_TARGET = 8
#: WeasyPrint is ~20 times slower: fewer calls per round keep the rounds interleaved and short.
HTML_PER_ROUND = 2


def html_renderer():
    """WeasyPrint's renderer, or None (and why) when the bench extra is not installed."""
    try:
        from bench.html_consent import HtmlRenderer

        return HtmlRenderer(), ""
    except (ImportError, OSError) as error:
        return None, f"WeasyPrint unavailable ({type(error).__name__}: {error}); " + (
            "pip install -e '.[bench]' and Debian's libpango-1.0-0 libpangoft2-1.0-0"
        )


def forget_everything() -> None:
    """Every cache of the renderer dropped: the next render is a fresh process's first of its
    form (the fonts stay registered: parsing them is every process's start, not a render's).
    The replayed pages are kept with the layouts, and go with them."""
    forget_layouts()
    forget_bullets()
    forget_subsets()
    outline_code.cache_clear()
    preview_underlay.cache_clear()
    metadata._packet.cache_clear()  # noqa: SLF001 - the kept XMP packets


def cpu_ms_per_call(
    fn: Callable[[], object], samples: list[float], per_round: int = PER_ROUND
) -> None:
    """Append one round's mean CPU milliseconds (this process's) per call of `fn`."""
    start = time.process_time()
    for _ in range(per_round):
        fn()
    samples.append((time.process_time() - start) * 1000 / per_round)


def run(rounds: int = ROUNDS) -> list[Figure]:
    """Ours, the floor and the HTML route, interleaved; the figures for the summary table."""
    definition, submission = demo_consent()
    register_fonts()
    texts = same_text(definition, submission)
    html, why = html_renderer()

    def ours() -> bytes:
        return render_consent(definition, submission, document_id=DOC_ID)

    def floor() -> bytes:
        return floor_render(texts)

    def cold() -> bytes:
        forget_everything()
        return render_consent(definition, submission, document_id=DOC_ID)

    def sealed() -> bytes:
        return render_consent(definition, submission, document_id=DOC_ID, seal=SEAL)

    def weasy() -> bytes:
        assert html is not None
        return html.render(definition, submission, DOC_ID)

    # Warm: fonts registered and parsed, first-call caches filled, on every route; and the
    # fairness check: every route prints the same words.
    print(coverage(ours(), floor(), "the floor"))
    if html:
        print(coverage(ours(), weasy(), "the HTML route"))
    if cold() != ours():
        raise SystemExit("render: a warm render is not the bytes of a cold one")
    sizes = {"preview": len(ours()), "sealed": len(sealed())}
    ours_ms: list[float] = []
    floor_ms: list[float] = []
    html_ms: list[float] = []
    cold_ms: list[float] = []
    sealed_ms: list[float] = []
    for _ in range(rounds):
        ms_per_call(ours, ours_ms)
        ms_per_call(floor, floor_ms)
        ms_per_call(cold, cold_ms)
        ms_per_call(sealed, sealed_ms)
        if html:
            ms_per_call(weasy, html_ms, HTML_PER_ROUND)
    cpu: dict[str, list[float]] = {"ours": [], "floor": [], "cold": [], "sealed": []}
    routes = {"ours": ours, "floor": floor, "cold": cold, "sealed": sealed}
    for _ in range(rounds):
        for name, route in routes.items():
            cpu_ms_per_call(route, cpu[name])
    load = os.getloadavg()[0]
    to_floor = ratios(ours_ms, floor_ms)
    cold_to_floor = ratios(cold_ms, floor_ms)
    sealed_to_floor = ratios(sealed_ms, floor_ms)
    smaller = all(sizes[kind] <= BEFORE_BYTES[kind] for kind in sizes)
    figures = [
        Figure("1 render", "ours: the demo consent (ms/PDF)", f"{median(ours_ms):.1f}"),
        Figure("1 render", "floor: bare reportlab, same text (ms/PDF)", f"{median(floor_ms):.1f}"),
        Figure(
            "1 render", "ratio ours / floor", f"{to_floor:.2f}", f"<= {FLOOR_TARGET}",
            to_floor <= FLOOR_TARGET,
        ),
        Figure(
            "1 render", "cold: every cache dropped first (ms/PDF)", f"{median(cold_ms):.1f}",
            note="a process's first consent of a form, language and page size",
        ),
        Figure("1 render", "ratio cold / floor", f"{cold_to_floor:.2f}"),
        Figure(
            "1 render", "ratio warm (ours) / floor", f"{to_floor:.2f}", f"<= {CACHED_TARGET}",
            to_floor <= CACHED_TARGET, "the form's paragraphs laid out and drawn once",
        ),
        Figure(
            "1 render", "as the archive renders it, warm (ms/PDF)", f"{median(sealed_ms):.1f}",
            note="the seal named, no preview mark",
        ),
        Figure(
            "1 render", "ratio archive's render / floor", f"{sealed_to_floor:.2f}",
            f"<= {CACHED_TARGET}", sealed_to_floor <= CACHED_TARGET,
        ),
        Figure(
            "1 render", "PDF bytes: preview / archive's render, before -> now",
            f"{BEFORE_BYTES['preview']:,} -> {sizes['preview']:,} / "
            f"{BEFORE_BYTES['sealed']:,} -> {sizes['sealed']:,}", "no bigger", smaller,
            "before: commit a05655d",
        ),
    ]  # fmt: skip
    cpu_floor = cpu["floor"]
    figures += [
        Figure(
            "1 render", "CPU: ours (warm) / cold / archive's / floor (ms/PDF)",
            " / ".join(f"{median(cpu[name]):.1f}" for name in ("ours", "cold", "sealed", "floor")),
            note=f"time.process_time, {rounds} interleaved rounds, load average {load:.1f}",
        ),
        Figure(
            "1 render", "CPU ratio warm (ours) / floor", f"{ratios(cpu['ours'], cpu_floor):.2f}",
            f"<= {CACHED_TARGET}", ratios(cpu["ours"], cpu_floor) <= CACHED_TARGET,
        ),
        Figure(
            "1 render", "CPU ratio archive's render / floor",
            f"{ratios(cpu['sealed'], cpu_floor):.2f}", f"<= {CACHED_TARGET}",
            ratios(cpu["sealed"], cpu_floor) <= CACHED_TARGET,
        ),
        Figure("1 render", "CPU ratio cold / floor", f"{ratios(cpu['cold'], cpu_floor):.2f}"),
    ]  # fmt: skip
    if html:
        to_html = ratios(html_ms, ours_ms)
        figures += [
            Figure("1 render", "HTML: WeasyPrint, same consent (ms/PDF)", f"{median(html_ms):.1f}"),
            Figure(
                "1 render", "ratio HTML / ours (times faster)", f"{to_html:.1f}",
                f">= {HTML_TARGET}", to_html >= HTML_TARGET,
            ),
        ]  # fmt: skip
    else:
        figures.append(
            Figure("1 render", "HTML: WeasyPrint", "n/a", f">= {HTML_TARGET}", None, why)
        )
    print(
        f"render: {rounds} rounds, interleaved: ours, the floor, cold and the archive's render "
        f"{PER_ROUND} calls a round, "
        f"WeasyPrint {HTML_PER_ROUND}; ratios are medians of the rounds' ratios"
    )
    return figures


def profile(count: int) -> None:
    from pyinstrument import Profiler

    definition, submission = demo_consent()
    register_fonts()
    texts = same_text(definition, submission)
    render_consent(definition, submission, document_id=DOC_ID)
    floor_render(texts)
    for name, fn in (
        ("ours", lambda: render_consent(definition, submission, document_id=DOC_ID)),
        ("floor", lambda: floor_render(texts)),
    ):
        profiler = Profiler(interval=0.0002)
        profiler.start()
        for _ in range(count):
            fn()
        profiler.stop()
        print(f"=== {name}: {count} renders")
        print(profiler.output_text(unicode=False, color=False, time="percent_of_total"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--profile", type=int, metavar="N", help="profile N renders instead")
    args = parser.parse_args()
    if args.profile:
        profile(args.profile)
    else:
        print_table(run(args.rounds))


if __name__ == "__main__":
    main()
