"""How render time grows with the answers: free text that fills 1, 10 and 100 pages.

The demo consent with its three free-text answers (allergies, medications, conditions) replaced
by long ones: sentences of everyday clinical words, a line break every six sentences (as a
patient types paragraphs), split evenly over the three answers. The number of sentences is
fitted so that the answers add 1, 10 and 100 pages to the demo's own pages, and every PDF's page
count is read back with pypdf (the table shows the pages it really has).

The tablet accepts at most `LONG_TEXT_MAX` (10,000) characters per answer, about 2 pages each;
100 pages of answers is beyond what it accepts, so the long submissions are made directly (the
validated demo with its `health` and `raw` replaced): this measures the renderer, not the form.

Linear growth means a constant cost per page: the figure is the cost of each added page (ms per
answer page over the demo's time) at 100 pages against at 10 pages; target at most 1.5.

    .venv/bin/python -m bench.bench_growth [--pages 1 10 100]
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import io
import random
import time

from pypdf import PdfReader

from bench.measure import Figure, demo_consent, median, print_table
from intake.definition import ConsentDefinition
from intake.pdf import render_consent
from intake.submission import LONG_TEXT_MAX, Health, Submission

DOC_ID = "0b7c1d2e-3f40-4a5b-8c6d-7e8f9a0b1c2d"
#: Target: cost per added page at the largest size / at 10 pages.
LINEAR_TARGET = 1.5
#: Seconds after which the largest size's render is not repeated any more.
TIME_BUDGET_S = 60
WORDS = """
the patient reports mild pain after each dose of her medication and takes vitamin supplements
daily with food since last winter symptoms include fatigue numbness tingling in the hands and
feet headaches dizziness on standing a rash that came back twice and trouble sleeping she was
told by her doctor to stop ibuprofen because of stomach bleeding in two thousand nineteen and
now uses paracetamol when needed blood tests showed low iron and a borderline thyroid result
""".split()


def answer_text(sentences: int, seed: int) -> str:
    """`sentences` sentences of 8 to 20 words, a line break after every sixth."""
    rng = random.Random(seed)
    parts: list[str] = []
    for n in range(1, sentences + 1):
        words = [rng.choice(WORDS) for _ in range(rng.randint(8, 20))]
        parts.append(" ".join(words).capitalize() + ("." if n % 6 else ".\n"))
    return " ".join(parts).replace("\n ", "\n").strip()


def long_submission(base: Submission, sentences: int) -> Submission:
    """The demo submission with `sentences` sentences of answers, a third in each answer."""
    per = [sentences // 3 + (1 if i < sentences % 3 else 0) for i in range(3)]
    texts = [answer_text(n, seed) for seed, n in enumerate(per)]
    raw = copy.deepcopy(dict(base.raw))
    raw["health"] = dict(zip(("allergies", "medications", "conditions"), texts, strict=True))
    return dataclasses.replace(base, health=Health(*texts), raw=raw)


def pages(pdf: bytes) -> int:
    return len(PdfReader(io.BytesIO(pdf)).pages)


def timed_render(definition: ConsentDefinition, submission: Submission) -> tuple[float, int]:
    started = time.perf_counter()
    pdf = render_consent(definition, submission, document_id=DOC_ID)
    return (time.perf_counter() - started) * 1000, pages(pdf)


def fit(
    definition: ConsentDefinition, base: Submission, base_pages: int, want: int, per_page: float
) -> tuple[Submission, int, float, float]:
    """Sentences for `want` added pages (`per_page` a first guess): the submission, its pages,
    the sentences per page seen, and the last render's ms. A few renders at most for 10 pages
    or fewer; one for more (its time is the first sample)."""
    sentences = max(1, round(want * per_page))
    tries = 4 if want <= 10 else 1
    for _ in range(tries):
        submission = long_submission(base, sentences)
        ms, got = timed_render(definition, submission)
        added = got - base_pages
        if added == want:
            break
        if added > 0:
            per_page = sentences / (added - 0.5)
        sentences = max(1, round((want - 0.5) * per_page))
    return submission, got, per_page, ms


def run(
    sizes: tuple[int, ...] = (1, 10, 100), repeats: dict[int, int] | None = None
) -> list[Figure]:
    definition, demo = demo_consent()
    repeats = repeats or {}
    render_consent(definition, demo, document_id=DOC_ID)
    base_ms = median(timed_render(definition, demo)[0] for _ in range(10))
    base_pages = pages(render_consent(definition, demo, document_id=DOC_ID))
    per_page = 45.0  # sentences per page: a first guess, refined by each fit
    rows: list[tuple[int, int, int, float]] = []  # wanted, pages, characters, ms
    for want in sorted(sizes):
        submission, got, per_page, first_ms = fit(definition, demo, base_pages, want, per_page)
        count = repeats.get(want, 7 if want <= 10 else 3)
        # The largest sizes take seconds a render: the fitting render counts as a sample, and
        # no more are made once TIME_BUDGET_S is spent (at least two samples).
        times = [] if want <= 10 else [first_ms]
        budget = time.perf_counter() + TIME_BUDGET_S
        while len(times) < count and (len(times) < 2 or time.perf_counter() < budget):
            ms, got = timed_render(definition, submission)
            times.append(ms)
        count = len(times)
        h = submission.health
        chars = len(h.allergies) + len(h.medications) + len(h.conditions)
        rows.append((want, got, chars, median(times)))
        print(
            f"growth: answers for {want} page(s): {got} pages in all ({got - base_pages} added), "
            f"{chars:,} characters, median of {count} renders {median(times):,.0f} ms"
        )
    print(
        f"growth: the demo alone has {base_pages} pages, {base_ms:.1f} ms; the tablet accepts "
        f"{LONG_TEXT_MAX:,} characters an answer, {3 * LONG_TEXT_MAX:,} in all"
    )
    figures = [Figure("6 growth", f"render, demo alone ({base_pages} pages)", f"{base_ms:.0f} ms")]
    per_added: dict[int, float] = {}
    for want, got, chars, ms in rows:
        added = got - base_pages
        per_added[want] = (ms - base_ms) / added if added > 0 else float("nan")
        figures.append(
            Figure(
                "6 growth",
                f"render, answers of {want} page(s): {got} pages, {chars // 1000}k chars",
                f"{ms:,.0f} ms",
                note=f"{per_added[want]:.1f} ms per added page",
            )
        )
    if 10 in per_added and len(rows) > 1 and rows[-1][0] > 10:
        largest = rows[-1][0]
        growth = per_added[largest] / per_added[10]
        figures.append(
            Figure(
                "6 growth",
                f"render: ms per added page at {largest} / at 10 pages",
                f"{growth:.2f}",
                f"<= {LINEAR_TARGET} (linear)",
                growth <= LINEAR_TARGET,
            )
        )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--pages", type=int, nargs="+", default=[1, 10, 100])
    print_table(run(tuple(parser.parse_args().pages)))


if __name__ == "__main__":
    main()
