"""Which devices may open the tablet flow, and how a tablet enrols itself.

Every `/tablet/...` request but the enrolment page passes `admit` first: an enrolled tablet
(its cookie's token names a tablet that is not revoked), or a browser a staff member handed to
a patient ("Start a patient session" marks that browser's session for one patient's flow).
Anyone else gets a 403 page that says how to enrol. New sessions and submits are also counted
per tablet and per address (`refuse_if_over`); past a limit the patient sees a "wait a minute"
page (429).

The credential is a random token in its own cookie (HttpOnly, SameSite=Lax; under HTTPS also
Secure, with the `__Host-` prefix), apart from the Flask session, which "Start over" clears.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import timedelta

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask.wrappers import Response

from intake.archive.audit import Actor
from intake.archive.tablets import LiveTablet, TabletError, Tablets
from intake.archive.web import get_archive, request_actor
from intake.i18n import gettext, say
from intake.languages import N_
from intake.tablet.forms import EnrolForm

COOKIE = "intake_tablet"
SECURE_COOKIE = "__Host-intake_tablet"
#: Browsers keep a cookie at most 400 days; the tablet's is set again on every enrolment.
COOKIE_MAX_AGE = timedelta(days=400)
#: The session key a staff member's "Start a patient session" sets.
PATIENT_SESSION = "patient_session"
#: A browser a staff member handed over opens the flow for this long at most.
PATIENT_SESSION_SECONDS = 2 * 60 * 60
#: The pages any device may open: the enrolment page itself.
OPEN_ENDPOINTS = {"tablet.enrol"}

ENROLLED = N_("This tablet is enrolled as “%(name)s”. It can now take consents.")


def tablets() -> Tablets:
    config = current_app.config
    return Tablets(
        get_archive(),
        code_ttl=config["TABLET_CODE_TTL_SECONDS"],
        seen_every=config["TABLET_SEEN_EVERY_SECONDS"],
    )


def cookie_name() -> str:
    return SECURE_COOKIE if request.is_secure else COOKIE


def current_tablet() -> LiveTablet | None:
    return g.get("tablet")


def draft_owner() -> str:
    """Whose drafts a new one counts with: the enrolled tablet's, else the client address's."""
    tablet = current_tablet()
    return f"tablet:{tablet.id}" if tablet is not None else f"ip:{request.remote_addr or ''}"


def tablet_actor() -> Actor:
    """Who is asking, with the enrolled tablet (if any): a consent records which one took it."""
    tablet = current_tablet()
    return replace(request_actor(), tablet_id=tablet.id if tablet else None)


def start_patient_session(form_id: str) -> None:
    """Mark this browser's (fresh) session as handed to a patient by a staff member."""
    session[PATIENT_SESSION] = {"form": form_id, "until": time.time() + PATIENT_SESSION_SECONDS}


def staff_started() -> bool:
    mark = session.get(PATIENT_SESSION)
    return isinstance(mark, dict) and float(mark.get("until", 0)) > time.time()


def refused_page() -> ResponseReturnValue:
    tablets().refused(request_actor())
    return render_template(
        "tablet/not_enrolled.html",
        page_title=gettext("Not one of the clinic's tablets"),
        enrol_url=url_for("tablet.enrol", _external=True),
    ), 403


def register(bp: Blueprint) -> None:
    """Put the check before every view of the tablet blueprint, and add the enrolment page."""
    bp.before_request(admit)
    bp.add_url_rule("/enrol", "enrol", enrol, methods=["GET", "POST"])


def admit() -> ResponseReturnValue | None:
    """Before every tablet request: an enrolled tablet or a staff-started session, else 403."""
    g.tablet = None
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    g.tablet = tablets().check(request.cookies.get(cookie_name()))
    if g.tablet is not None or staff_started():
        return None
    return refused_page()


def may_start_another() -> bool:
    """A staff-started session is for one patient: once that patient has submitted, the next
    one needs a staff member again (an enrolled tablet may always start)."""
    if current_tablet() is not None:
        return True
    mark = session.get(PATIENT_SESSION) or {}
    return not mark.get("submitted")


def mark_submitted() -> None:
    mark = session.get(PATIENT_SESSION)
    if current_tablet() is None and isinstance(mark, dict):
        session[PATIENT_SESSION] = {**mark, "submitted": True}


def refuse_if_over(kind: str) -> ResponseReturnValue | None:
    """Count a new session ("session") or a submit ("submit") for this tablet and address; a
    429 page once either is past its per-minute limit."""
    config = current_app.config
    limits = [(f"ip:{request.remote_addr or ''}", config[f"ADDRESS_{kind.upper()}S_PER_MINUTE"])]
    tablet = current_tablet()
    if tablet is not None:
        limits.insert(0, (f"tablet:{tablet.id}", config[f"TABLET_{kind.upper()}S_PER_MINUTE"]))
    over = tablets().over_limit(kind, limits)
    if over is None:
        return None
    page = render_template(
        "tablet/too_many.html",
        page_title=gettext("Please wait a minute"),
        kind=kind,
        by_tablet=over.startswith("tablet:"),
    )
    return page, 429, {"Retry-After": "60"}


def enrol() -> ResponseReturnValue:
    """A tablet enrols itself with a code from the staff screen (the QR code's link fills it)."""
    form = EnrolForm(
        data={"code": request.args.get("code", "")} if request.method == "GET" else None
    )
    if form.validate_on_submit():
        if (over := refuse_if_over("session")) is not None:
            return over
        try:
            enrolled = tablets().enrol(form.code.data or "", form.name.data or "", request_actor())
        except TabletError as error:
            field = form.code if error.field == "code" else form.name
            field.errors = [*field.errors, f"{field.label.text} {say(error.message)}"]
        else:
            response = redirect(url_for("tablet.index"))
            set_tablet_cookie(response, enrolled.token)
            flash(gettext(ENROLLED, name=enrolled.tablet.name))
            return response
    return render_template(
        "tablet/enrol.html", form=form, page_title=gettext("Enrol this tablet")
    ), 422 if form.errors else 200


def set_tablet_cookie(response: Response, token: str) -> None:
    """The device credential: long-lived, never readable by scripts, never sent cross-site."""
    response.set_cookie(
        cookie_name(),
        token,
        max_age=COOKIE_MAX_AGE,
        path="/",
        secure=request.is_secure,
        httponly=True,
        samesite="Lax",
    )
