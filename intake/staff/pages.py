"""The staff blueprint and what every staff page shares: who is asking, the banner of consents
waiting for storage, the page chrome, and the error pages.

The views live in one module per area (`login`, `consents`, `patient_session`, `accounts`,
`retention`, `audit_trail`), all on this one blueprint, so every URL and endpoint is `staff.*`.
Every request first checks the login behind the cookie (`auth.load_staff`), then the role the
view is marked with (`auth.require_role`).
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, g, render_template
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import SQLAlchemyError

from intake.archive.audit import Actor
from intake.archive.errors import ConsentMissing, is_storage_reason
from intake.archive.models import Consent, Staff
from intake.archive.staff import IDLE_LIMIT
from intake.archive.web import get_archive, request_actor
from intake.definition import FormCatalog
from intake.i18n import gettext
from intake.staff.auth import accounts, current_staff, load_staff, may, require_role
from intake.staff.filters import why_waiting

bp = Blueprint("staff", __name__, url_prefix="/staff")

__all__ = ["accounts", "actor", "bp", "catalog", "consent_or_404", "me"]

#: Seconds between two background retries of consents waiting for storage, from staff pages.
RETRY_EVERY = 60.0


def catalog() -> FormCatalog:
    return current_app.extensions["forms"]


def me() -> Staff:
    """The staff member asking (every view but the login page is behind a role)."""
    staff = current_staff()
    assert staff is not None
    return staff


def actor() -> Actor:
    return request_actor(me().id)


def consent_or_404(consent_id: str) -> Consent:
    try:
        return get_archive().get(consent_id)
    except ConsentMissing:
        abort(404)


def load_waiting() -> None:
    """Pending consents that failed to finish, by reason, on `g.waiting` for the banner on every
    staff page: one query on the status index, and only for a logged-in staff member.

    While some wait because storage failed, the archive is also asked to try them again in the
    background, at most once a minute (`RETRY_EVERY`): the request itself does nothing heavy,
    and the banner is gone on a later page once the disk has room again.
    """
    g.waiting = []
    if current_staff() is None:
        return
    archive = get_archive()
    try:
        waiting = archive.waiting()
    except SQLAlchemyError:
        return
    if any(is_storage_reason(reason) for reason, _ in waiting):
        archive.retry_waiting_soon(min_interval=RETRY_EVERY)
    g.waiting = [(why_waiting(reason), count) for reason, count in waiting]


# The login first, then the banner (an error page for the wrong role shows it too), then the role.
bp.before_request(load_staff)
bp.before_request(load_waiting)
bp.before_request(require_role)


def clinic_name() -> str:
    ids = catalog().ids()
    return catalog().get(ids[0]).clinic_name if ids else ""


@bp.context_processor
def staff_context() -> dict[str, object]:
    archive = get_archive()
    return {
        "me": current_staff(),
        "may": may,
        "seal_certificate": archive.signer().certificate if archive.self_signed else None,
        # The page reloads itself once the server has ended an idle login, so that a tablet
        # left on a consent does not keep showing it.
        "idle_seconds": int(IDLE_LIMIT.total_seconds()) + 5,
        "clinic_name": clinic_name(),
        "waiting": g.get("waiting", []),
    }


@bp.errorhandler(403)
def forbidden(error: Exception) -> ResponseReturnValue:
    return render_template("staff/forbidden.html", page_title=gettext("Not for your role")), 403


@bp.errorhandler(404)
def not_found(error: Exception) -> ResponseReturnValue:
    return render_template("staff/not_found.html", page_title=gettext("Not found")), 404


@bp.errorhandler(CSRFError)
def expired(error: CSRFError) -> ResponseReturnValue:
    return render_template("staff/expired.html", page_title=gettext("Page expired")), 400
