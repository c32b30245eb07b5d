"""The tablet intake flow: the patient fills in and signs a consent, then hands the tablet back."""

from __future__ import annotations

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError

from intake.i18n import gettext
from intake.tablet import copy, visit, withdrawal
from intake.tablet.routes import bp

#: The returning patient's check-in and the withdrawal signed on the tablet add their views to
#: the tablet blueprint.
VIEWS = (visit, withdrawal)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.register_blueprint(copy.bp)
    app.register_error_handler(CSRFError, _page_expired)


def _page_expired(error: CSRFError) -> tuple[str, int]:
    """A post without a valid CSRF token: usually a page left open past the session's end."""
    return render_template("tablet/expired.html", page_title=gettext("Page expired")), 400
