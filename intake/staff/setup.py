"""The one-time setup link (`/staff/setup/<token>`): the first admin makes their own account.

A blueprint of its own, outside the staff pages' login and roles: it is the way in before any
account exists. A link that is unknown, used, or opened once an account exists leads to the
login page, so the page tells nothing about which links were ever issued. The browser that makes
the first admin is enrolled as the first tablet (its cookie is set with the redirect).
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from intake.archive.setup import SetupLinkSpent, create_first_admin, setup_token_holds
from intake.archive.staff import StaffError
from intake.archive.web import get_archive, request_actor
from intake.i18n import gettext
from intake.languages import N_
from intake.staff.forms import FirstAdminForm, show_error
from intake.staff.pages import clinic_name
from intake.tablet.devices import set_tablet_cookie

bp = Blueprint("setup", __name__, url_prefix="/staff/setup")

READY = N_(
    "Your admin account is ready. Log in with it. This browser is now enrolled as the tablet "
    "“%(tablet)s”: it opens the patient's forms at /tablet/."
)
SPENT = N_("This setup link has been used, or an account exists already. Log in, or ask an admin.")


@bp.context_processor
def setup_context() -> dict[str, object]:
    return {"clinic_name": clinic_name()}


@bp.route("/<token>", methods=["GET", "POST"])
def first_admin(token: str) -> ResponseReturnValue:
    archive = get_archive()
    if not setup_token_holds(archive, token):
        flash(gettext(SPENT))
        return redirect(url_for("staff.login"))
    form = FirstAdminForm()
    if form.validate_on_submit():
        try:
            first = create_first_admin(
                archive,
                token,
                email=form.email.data or "",
                name=form.name.data or "",
                password=form.password.data or "",
                actor=request_actor(),
            )
        except SetupLinkSpent:
            flash(gettext(SPENT))
            return redirect(url_for("staff.login"))
        except StaffError as error:
            show_error(form, error)
        else:
            flash(gettext(READY, tablet=first.tablet.tablet.name))
            response = redirect(url_for("staff.login"))
            set_tablet_cookie(response, first.tablet.token)
            return response
    return render_template(
        "staff/setup.html", form=form, page_title=gettext("Make the first admin account")
    ), 422 if form.errors else 200
