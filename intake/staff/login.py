"""Logging in and out of the staff pages."""

from __future__ import annotations

from flask import flash, redirect, render_template, session, url_for
from flask.typing import ResponseReturnValue

from intake.archive.accounts import LoginRefused
from intake.archive.setup import has_staff
from intake.archive.web import get_archive, request_actor
from intake.staff.auth import TOKEN, allow, current_staff
from intake.staff.forms import LoginForm
from intake.staff.pages import accounts, actor, bp


@bp.route("/login", methods=["GET", "POST"])
@allow(None)
def login() -> ResponseReturnValue:
    if current_staff() is not None:
        return redirect(url_for(".consents"))
    form = LoginForm()
    refused: LoginRefused | None = None
    if form.validate_on_submit():
        try:
            token = accounts().login(form.email.data, form.password.data, request_actor())
        except LoginRefused as error:
            refused = error
        else:
            session.clear()
            session[TOKEN] = token
            return redirect(url_for(".consents"))
    status = 429 if refused and refused.wait_minutes else 422 if refused or form.errors else 200
    return render_template(
        "staff/login.html",
        form=form,
        refused=refused,
        first_start=not has_staff(get_archive()),
        page_title="Staff login",
    ), status


@bp.post("/logout")
@allow("front-desk")
def logout() -> ResponseReturnValue:
    """End this browser's login for good and forget everything the cookie held."""
    accounts().logout(session.get(TOKEN), actor())
    session.clear()
    flash("You are logged out.")
    return redirect(url_for(".login"))
