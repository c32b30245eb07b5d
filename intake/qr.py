"""QR codes for the pages: an enrolment link, an authenticator's secret, the patient's copy."""

from __future__ import annotations

import segno

#: The mask pattern, fixed: choosing the best of the eight (what segno does when none is given)
#: draws and scores each one, two thirds of a code's cost (4 of 6 ms for the thank-you page's
#: link). Any of the eight reads the same: a reader learns the mask from the code's format bits.
MASK = 2


def qr_data_uri(text: str, scale: int = 6) -> str:
    """The QR code of `text` as an SVG data URI, for an `<img>` (the pages' policy allows
    `data:` images, and no inline script or style is needed)."""
    return segno.make(text, error="m", mask=MASK).svg_data_uri(scale=scale, border=2)
