"""QR codes for the pages: an enrolment link, an authenticator's secret, the patient's copy."""

from __future__ import annotations

import segno


def qr_data_uri(text: str, scale: int = 6) -> str:
    """The QR code of `text` as an SVG data URI, for an `<img>` (the pages' policy allows
    `data:` images, and no inline script or style is needed)."""
    return segno.make(text, error="m").svg_data_uri(scale=scale, border=2)
