"""Staff accounts (admins): the list, adding a staff member, and changing a role, a password or
whether the account may log in."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm

from intake.archive.accounts import StaffError, StaffMissing
from intake.archive.models import Staff
from intake.i18n import gettext
from intake.staff.auth import allow, recent_login
from intake.staff.forms import ActiveForm, NewStaffForm, PasswordForm, RoleForm, show_error
from intake.staff.pages import accounts as account_service
from intake.staff.pages import actor, bp


def staff_or_404(staff_id: str) -> Staff:
    staff = account_service().get(staff_id)
    if staff is None:
        abort(404)
    return staff


@bp.get("/accounts")
@allow("admin")
def accounts() -> ResponseReturnValue:
    return render_template(
        "staff/accounts.html",
        staff=account_service().all(by_name=True),
        page_title=gettext("Staff accounts"),
        section="accounts",
    )


@bp.route("/accounts/new", methods=["GET", "POST"])
@allow("admin")
@recent_login()
def new_account() -> ResponseReturnValue:
    form = NewStaffForm()
    if form.validate_on_submit():
        try:
            staff = account_service().create(
                email=form.email.data or "",
                name=form.name.data or "",
                role=form.role.data,
                password=form.password.data or "",
                actor=actor(),
            )
        except StaffError as error:
            show_error(form, error)
        else:
            flash(gettext("The account is ready: they can log in with the initial password."))
            return redirect(url_for(".account", staff_id=staff.id))
    return render_template(
        "staff/new_account.html",
        form=form,
        page_title=gettext("Add a staff member"),
        section="accounts",
    ), 422 if form.errors else 200


def show_account(staff: Staff, **forms: FlaskForm) -> ResponseReturnValue:
    role_form = forms.get("role_form") or RoleForm(data={"role": staff.role})
    password_form = forms.get("password_form") or PasswordForm()
    active_form = forms.get("active_form") or ActiveForm(
        data={"state": "off" if staff.active else "on"}
    )
    failed = any(form.errors for form in forms.values())
    return render_template(
        "staff/account.html",
        staff=staff,
        role_form=role_form,
        password_form=password_form,
        active_form=active_form,
        page_title=gettext("Staff account"),
        section="accounts",
    ), 422 if failed else 200


@bp.get("/accounts/<staff_id>")
@allow("admin")
@recent_login()
def account(staff_id: str) -> ResponseReturnValue:
    return show_account(staff_or_404(staff_id))


def change_account(
    staff_id: str, form: FlaskForm, form_name: str, **change: Any
) -> ResponseReturnValue:
    """Apply one change to an account; errors go back to the field that caused them."""
    staff = staff_or_404(staff_id)
    if form.validate_on_submit():
        try:
            account_service().change(staff_id, actor(), **change)
        except StaffMissing:
            abort(404)
        except StaffError as error:
            show_error(form, error)
        else:
            flash(gettext("Saved. The account's open logins have ended."))
            return redirect(url_for(".account", staff_id=staff_id))
    return show_account(staff, **{form_name: form})


@bp.post("/accounts/<staff_id>/role")
@allow("admin")
@recent_login("staff.account")
def change_role(staff_id: str) -> ResponseReturnValue:
    form = RoleForm()
    return change_account(staff_id, form, "role_form", role=form.role.data)


@bp.post("/accounts/<staff_id>/password")
@allow("admin")
@recent_login("staff.account")
def change_password(staff_id: str) -> ResponseReturnValue:
    form = PasswordForm()
    return change_account(staff_id, form, "password_form", password=form.password.data or "")


@bp.post("/accounts/<staff_id>/active")
@allow("admin")
@recent_login("staff.account")
def switch_account(staff_id: str) -> ResponseReturnValue:
    form = ActiveForm()
    return change_account(staff_id, form, "active_form", active=form.state.data == "on")
