"""Lay out a consent PDF with reportlab Platypus (work in progress)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from intake.definition import ConsentDefinition
from intake.submission import Submission


@dataclass(frozen=True)
class RenderSettings:
    """Clinic settings that appear on the PDF but are not part of the consent text."""

    clinic_address: str = ""
    clinic_phone: str = ""
    #: "letter" or "a4".
    page_size: str = "letter"


def render_consent(
    definition: ConsentDefinition,
    submission: Submission,
    *,
    settings: RenderSettings | None = None,
    document_id: str | None = None,
) -> bytes:
    """The consent PDF for one submission, as bytes."""
    raise NotImplementedError(str(document_id or uuid.uuid4()))
