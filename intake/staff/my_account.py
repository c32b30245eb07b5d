"""My account, for every role: one's own password (with the current one), the second factor
(an authenticator app, and recovery codes), and confirming who holds the login before an
account or retention change."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from intake.archive.accounts import StaffError
from intake.i18n import LANGUAGES, gettext
from intake.languages import N_
from intake.staff.auth import TOKEN, allow, login_check, safe_next
from intake.staff.forms import CodeForm, ConfirmForm, OwnPasswordForm, ReauthForm, show_error
from intake.staff.pages import accounts, actor, bp, me

PASSWORD_CHANGED = N_("Your password was changed. Log in with the new one.")
SECOND_FACTOR_ON = N_("Two-step login is on. Keep the recovery codes below somewhere safe.")


def show_my_account(password_form: OwnPasswordForm | None = None) -> ResponseReturnValue:
    staff = me()
    enrolled = login_check().has_second_factor
    return render_template(
        "staff/my_account.html",
        staff=staff,
        password_form=password_form or OwnPasswordForm(),
        enrolled=enrolled,
        codes_left=accounts().recovery_codes_left(staff.id) if enrolled else 0,
        page_title=gettext("My account"),
        section="me",
    ), 422 if password_form is not None and password_form.errors else 200


@bp.get("/me")
@allow("front-desk")
def my_account() -> ResponseReturnValue:
    return show_my_account()


@bp.post("/me/password")
@allow("front-desk")
def change_own_password() -> ResponseReturnValue:
    form = OwnPasswordForm()
    if form.validate_on_submit():
        try:
            accounts().change_own_password(
                me().id, form.current_password.data or "", form.password.data or "", actor()
            )
        except StaffError as error:
            show_error(form, error)
        else:
            session.clear()
            flash(gettext(PASSWORD_CHANGED))
            return redirect(url_for(".login"))
    return show_my_account(form)


@bp.route("/me/second-factor", methods=["GET", "POST"])
@allow("front-desk")
def second_factor() -> ResponseReturnValue:
    """Enrol an authenticator app: its secret as text and as a QR code, confirmed by a code."""
    staff = me()
    if login_check().has_second_factor:
        return render_template(
            "staff/second_factor.html",
            enrolled=True,
            page_title=gettext("Two-step login"),
            section="me",
        )
    form = CodeForm()
    if form.validate_on_submit():
        try:
            codes = accounts().confirm_enrolment(staff.id, form.code.data or "", actor())
        except StaffError as error:
            show_error(form, error)
        else:
            flash(gettext(SECOND_FACTOR_ON))
            # Shown on this response only: the archive keeps nothing but their hashes.
            return render_template(
                "staff/second_factor.html",
                enrolled=True,
                recovery_codes=codes,
                page_title=gettext("Two-step login"),
                section="me",
            )
    return render_template(
        "staff/second_factor.html",
        enrolled=False,
        enrolment=accounts().start_enrolment(staff.id),
        form=form,
        page_title=gettext("Two-step login"),
        section="me",
    ), 422 if form.errors else 200


@bp.post("/me/language")
@allow("front-desk")
def staff_language() -> ResponseReturnValue:
    """A language button of the staff header: kept on the account, then back to the page."""
    if ConfirmForm().validate_on_submit() and request.form.get("lang") in LANGUAGES:
        accounts().set_language(me().id, request.form["lang"], actor())
    return redirect(safe_next(request.form.get("next")))


@bp.route("/confirm", methods=["GET", "POST"])
@allow("front-desk")
def reauthenticate() -> ResponseReturnValue:
    """The password (and code) again, when the login last proved who holds it too long ago."""
    form = ReauthForm(data={"next": request.args.get("next", "")})
    if form.validate_on_submit():
        try:
            accounts().reauthenticate(
                session.get(TOKEN), form.password.data or "", form.code.data or "", actor()
            )
        except StaffError as error:
            show_error(form, error)
        else:
            return redirect(safe_next(form.next.data))
    return render_template(
        "staff/reauthenticate.html",
        form=form,
        needs_code=login_check().has_second_factor,
        page_title=gettext("Confirm it is you"),
    ), 422 if form.errors else 200
