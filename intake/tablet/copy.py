"""`/copy/<token>`: the patient's own copy, opened on their phone from the thank-you screen's QR
code. The phone is not one of the clinic's tablets: this page is outside the tablet flow and
needs no session; the one-time token is all it takes, and the copy opens only with the code
the thank-you screen showed beside the QR code."""

from __future__ import annotations

from io import BytesIO

from flask import Blueprint, render_template, send_file
from flask.typing import ResponseReturnValue

from intake.archive.copies import CopyGone, take_copy
from intake.archive.web import get_archive, request_actor
from intake.i18n import gettext

bp = Blueprint("copy", __name__, url_prefix="/copy")


@bp.get("/<token>")
def take(token: str) -> ResponseReturnValue:
    try:
        pdf = take_copy(get_archive(), token, request_actor())
    except CopyGone as gone:
        title = gettext("Link used already") if gone.used else gettext("Link expired")
        return render_template("tablet/copy_gone.html", used=gone.used, page_title=title), 410
    return send_file(
        BytesIO(pdf),
        mimetype="application/pdf",
        as_attachment=True,
        download_name="consent-copy.pdf",
    )
