"""The lots in stock (admins): the list with each lot's state, adding a lot, and recalling one
with a reason. A lot is never edited or deleted: the injections given from it name it."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm

from intake.archive.lots import LotError, LotMissing, Lots, NewLot, unusable
from intake.archive.web import get_archive
from intake.i18n import gettext, lazy_gettext
from intake.staff.auth import allow
from intake.staff.injection_forms import LotForm, RecallForm
from intake.staff.pages import actor, bp

#: What each refusal of `intake.archive.lots` says at its field.
LOT_MESSAGES = {
    "required": lazy_gettext("This field is required."),
    "too-long": lazy_gettext("This is too long."),
    "past": lazy_gettext("This lot has expired already: it cannot be added."),
    "duplicate": lazy_gettext("This product already has a lot with this number."),
    "recalled-already": lazy_gettext("This lot is recalled already."),
}
#: A lot's state on the list.
STATES = {
    None: lazy_gettext("In use"),
    "expired": lazy_gettext("Expired"),
    "recalled": lazy_gettext("Recalled"),
}


def clinic_today() -> date:
    """Today's date where the clinic is (the archive's clock, in the clinic's time zone)."""
    name = current_app.config["CLINIC_TIMEZONE"]
    return get_archive().clock().astimezone(ZoneInfo(name) if name else None).date()


def lots() -> Lots:
    return Lots(get_archive())


def show_lot_error(form: FlaskForm, error: LotError) -> None:
    field = form._fields.get(error.field)
    message = str(LOT_MESSAGES.get(error.code, error.code))
    if field is None:
        form.form_errors.append(message)
    else:
        field.errors = [*field.errors, message]


def lot_or_404(lot_id: str):
    try:
        return lots().get(lot_id)
    except LotMissing:
        abort(404)


@bp.route("/lots", methods=["GET", "POST"])
@allow("admin")
def lots_list() -> ResponseReturnValue:
    form = LotForm()
    if form.validate_on_submit():
        new = NewLot(
            product=form.product.data or "",
            strength=form.strength.data or "",
            supplier=form.supplier.data or "",
            lot_number=form.lot_number.data or "",
            expires_on=form.expires_on.data,
        )
        try:
            lots().add(new, actor(), today=clinic_today())
        except LotError as error:
            show_lot_error(form, error)
        else:
            flash(gettext("The lot is added: it can be chosen for injections."))
            return redirect(url_for(".lots_list"))
    today = clinic_today()
    rows = [(lot, code, STATES[code]) for lot in lots().all() for code in [unusable(lot, today)]]
    return render_template(
        "staff/lots.html",
        rows=rows,
        form=form,
        page_title=gettext("Lots in stock"),
        section="lots",
    ), 422 if form.errors else 200


@bp.route("/lots/<lot_id>/recall", methods=["GET", "POST"])
@allow("admin")
def recall_lot(lot_id: str) -> ResponseReturnValue:
    lot = lot_or_404(lot_id)
    form = RecallForm()
    if lot.recalled_at is None and form.validate_on_submit():
        try:
            lots().recall(lot_id, form.reason.data or "", actor())
        except LotError as error:
            show_lot_error(form, error)
        except LotMissing:
            abort(404)
        else:
            flash(gettext("The lot is recalled: it can no longer be chosen."))
            return redirect(url_for(".lots_list"))
    return render_template(
        "staff/lot_recall.html",
        lot=lot,
        form=form,
        page_title=gettext("Recall a lot"),
        section="lots",
    ), 422 if form.errors else 200
