"""Logging in and out of the staff pages: the password, then the code when the account has a
second factor."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from intake.archive.accounts import LoginRefused
from intake.archive.setup import has_staff
from intake.archive.web import get_archive, request_actor
from intake.i18n import gettext
from intake.staff.auth import TOKEN, allow, current_staff, login_check
from intake.staff.forms import CodeForm, LoginForm
from intake.staff.pages import accounts, actor, bp


def _status(refused: LoginRefused | None, failed: bool) -> int:
    return 429 if refused and refused.wait_seconds else 422 if refused or failed else 200


@bp.route("/login", methods=["GET", "POST"])
@allow(None)
def login() -> ResponseReturnValue:
    if current_staff() is not None:
        return redirect(url_for(".consents"))
    if login_check().code_due:
        if request.args.get("again") is None:
            return second_step()
        session.pop(TOKEN, None)
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
    return render_template(
        "staff/login.html",
        form=form,
        refused=refused,
        first_start=not has_staff(get_archive()),
        page_title=gettext("Staff login"),
    ), _status(refused, bool(form.errors))


def second_step() -> ResponseReturnValue:
    """The password was right: the code from the app (or a recovery code) opens the login."""
    form = CodeForm()
    refused: LoginRefused | None = None
    if form.validate_on_submit():
        try:
            accounts().confirm_code(session.get(TOKEN), form.code.data or "", request_actor())
        except LoginRefused as error:
            refused = error
        else:
            return redirect(url_for(".consents"))
    return render_template(
        "staff/login_code.html", form=form, refused=refused, page_title=gettext("Staff login: code")
    ), _status(refused, bool(form.errors))


@bp.post("/logout")
@allow("front-desk")
def logout() -> ResponseReturnValue:
    """End this browser's login for good and forget everything the cookie held."""
    accounts().logout(session.get(TOKEN), actor())
    session.clear()
    flash(gettext("You are logged out."))
    return redirect(url_for(".login"))
