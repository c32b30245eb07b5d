"""Render benchmark: ms per demo consent, against a bare reportlab script (the floor).

The floor lays out the same text (every consent paragraph, item and answer) with the same fonts
as plain Platypus paragraphs: no tables, no signature, no footer, no pypdf pass. Both run in
this process, interleaved, so the ratio is fair on a noisy machine.
"""

from __future__ import annotations

import io
import statistics

from measure import ROUNDS, demo_consent, ms_per_call
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import Paragraph, SimpleDocTemplate

from intake.definition import ConsentDefinition
from intake.pdf import render_consent
from intake.pdf.fonts import BODY, register_fonts
from intake.pdf.text import pdf_text
from intake.submission import Submission


def same_text(definition: ConsentDefinition, submission: Submission) -> list[str]:
    """Every piece of text the consent carries, in order."""
    texts = [definition.clinic_name, definition.title, definition.purpose]
    p = submission.patient
    texts += [p.legal_name, p.preferred_name, p.date_of_birth.isoformat(), p.phone, p.email]
    texts += [p.address, p.emergency_contact.name, p.emergency_contact.phone, p.primary_physician]
    texts += [submission.health.allergies, submission.health.medications]
    texts += [submission.health.conditions]
    texts += [q.question for q in definition.screening]
    for section in definition.sections:
        texts += [section.heading, *section.paragraphs, *section.items]
    for tier in definition.side_effects:
        texts += [tier.heading, tier.intro, *tier.items, tier.action]
    texts += [a.text for a in definition.acknowledgments]
    texts += [definition.signature.meaning, definition.signature.clinician_line]
    return texts


def floor_render(texts: list[str]) -> bytes:
    """A bare reportlab script: the same text as paragraphs, nothing else."""
    buffer = io.BytesIO()
    style = ParagraphStyle("body", fontName=BODY, fontSize=9.5, leading=13, spaceAfter=4)
    SimpleDocTemplate(buffer, pagesize=LETTER).build([Paragraph(pdf_text(t), style) for t in texts])
    return buffer.getvalue()


def main() -> None:
    definition, submission = demo_consent()
    register_fonts()
    texts = same_text(definition, submission)
    ours: list[float] = []
    floor: list[float] = []
    render_consent(definition, submission)
    floor_render(texts)
    for _ in range(ROUNDS):
        ms_per_call(lambda: render_consent(definition, submission), ours)
        ms_per_call(lambda: floor_render(texts), floor)
    ours_ms, floor_ms = statistics.median(ours), statistics.median(floor)
    print(f"{'measure':<44}{'median':>12}{'target':>16}")
    print(f"{'render demo consent (ms/PDF)':<44}{ours_ms:>12.1f}{'< 25':>16}")
    print(f"{'bare reportlab, same text (ms/PDF)':<44}{floor_ms:>12.1f}{'':>16}")
    print(f"{'ratio render / floor':<44}{ours_ms / floor_ms:>12.2f}{'<= 1.5':>16}")


if __name__ == "__main__":
    main()
