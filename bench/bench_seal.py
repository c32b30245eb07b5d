"""Seal benchmark: ms to seal one demo consent, and render + seal against render alone.

Render, seal and render + seal run in this process, interleaved round by round, so the ratio is
fair on a noisy machine (the ratio is the median of the rounds' ratios). The certificate is a
self-signed one made in a temporary folder, as the app makes when no PKCS#12 is configured.

    .venv/bin/python -m bench.bench_seal [--rounds 15]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path

from bench.measure import ROUNDS, Figure, demo_consent, median, ms_per_call, print_table, ratios
from intake.certificates import clinic_signer
from intake.pdf import render_consent
from intake.pdf.seal import seal_pdf, seal_reason

DOC_ID = "0b7c1d2e-3f40-4a5b-8c6d-7e8f9a0b1c2d"


SEAL_TARGET_MS = 30
RATIO_TARGET = 2


def run(rounds: int = ROUNDS) -> list[Figure]:
    definition, submission = demo_consent()
    reason = seal_reason(definition, DOC_ID)
    # The notice that a self-signed certificate was made is for a clinic, not for the figures.
    logging.getLogger("intake.certificates").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as folder:
        clinic = clinic_signer(Path(folder), clinic_name=definition.clinic_name)

        def render() -> bytes:
            return render_consent(definition, submission, document_id=DOC_ID)

        rendered = render()
        seal_pdf(rendered, clinic, reason=reason)
        render_ms: list[float] = []
        seal_ms: list[float] = []
        both_ms: list[float] = []
        for _ in range(rounds):
            ms_per_call(render, render_ms)
            ms_per_call(lambda: seal_pdf(rendered, clinic, reason=reason), seal_ms)
            ms_per_call(lambda: seal_pdf(render(), clinic, reason=reason), both_ms)
    seal_median = median(seal_ms)
    ratio = ratios(both_ms, render_ms)
    print(f"seal: {rounds} rounds, render / seal / render + seal interleaved")
    return [
        Figure(
            "2 seal", "seal demo consent, PAdES (ms/PDF)", f"{seal_median:.1f}",
            f"<= {SEAL_TARGET_MS}", seal_median <= SEAL_TARGET_MS,
        ),
        Figure("2 seal", "render alone (ms/PDF)", f"{median(render_ms):.1f}"),
        Figure("2 seal", "render + seal (ms/PDF)", f"{median(both_ms):.1f}"),
        Figure(
            "2 seal", "ratio (render + seal) / render", f"{ratio:.2f}", f"<= {RATIO_TARGET}",
            ratio <= RATIO_TARGET,
        ),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    print_table(run(parser.parse_args().rounds))


if __name__ == "__main__":
    main()
