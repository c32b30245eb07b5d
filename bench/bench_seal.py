"""Seal benchmark: ms to seal one demo consent, and render + seal against render alone.

Render, seal and render + seal run in this process, interleaved round by round, so the ratio is
fair on a noisy machine. The certificate is a self-signed one made in a temporary folder.
"""

from __future__ import annotations

import logging
import statistics
import tempfile
from pathlib import Path

from measure import ROUNDS, demo_consent, ms_per_call

from intake.certificates import clinic_signer
from intake.pdf import render_consent
from intake.pdf.seal import seal_pdf, seal_reason

DOC_ID = "0b7c1d2e-3f40-4a5b-8c6d-7e8f9a0b1c2d"


def main() -> None:
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
        for _ in range(ROUNDS):
            ms_per_call(render, render_ms)
            ms_per_call(lambda: seal_pdf(rendered, clinic, reason=reason), seal_ms)
            ms_per_call(lambda: seal_pdf(render(), clinic, reason=reason), both_ms)
    render_median = statistics.median(render_ms)
    seal_median = statistics.median(seal_ms)
    both_median = statistics.median(both_ms)
    print(f"{'measure':<44}{'median':>12}{'target':>16}")
    print(f"{'seal demo consent (ms/PDF)':<44}{seal_median:>12.1f}{'<= 30':>16}")
    print(f"{'render alone (ms/PDF)':<44}{render_median:>12.1f}{'':>16}")
    print(f"{'render + seal (ms/PDF)':<44}{both_median:>12.1f}{'':>16}")
    print(f"{'ratio (render + seal) / render':<44}{both_median / render_median:>12.2f}{'<= 2':>16}")


if __name__ == "__main__":
    main()
