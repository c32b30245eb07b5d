"""A withdrawal the patient signs on the tablet: the one staff sent to this enrolled tablet,
greeted by first name only, the form's withdrawal statement in the patient's language, and the
pad; recorded and sealed on submit. The tablet never looks a patient up: it only asks which
withdrawal waits for itself. No patient data goes into a URL or a log line."""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, render_template, session, url_for
from flask.typing import ResponseReturnValue
from wtforms import HiddenField

from intake.archive.web import get_archive
from intake.archive.withdrawal_tablet import HandoffError, OpenWithdrawal, TabletWithdrawals
from intake.archive.withdrawals import WithdrawalRefused
from intake.checkin import check_pad
from intake.i18n import LANGUAGES, gettext, lazy_gettext, locale
from intake.submission import SIGNATURE_MIN_EXTENT, FieldError
from intake.tablet import devices, service
from intake.tablet.forms import EMPTY_PAD, PAD_HEIGHT, PAD_WIDTH, StepForm, _pad
from intake.tablet.routes import bp, catalog
from intake.tablet.visit_form import SIGN_AGAIN, SIGN_EMPTY


class WithdrawalSignForm(StepForm):
    signature = HiddenField(lazy_gettext("Your signature"), default=EMPTY_PAD)
    paths = {"signature": "signature"}

    def part(self) -> dict[str, Any]:
        return {"signature": _pad(self.signature.data)}

    def check(self) -> list[FieldError]:
        return check_pad(self.part()["signature"])[1]

    def place_errors(self, errors: list[FieldError]) -> None:
        for error in errors:
            message = SIGN_EMPTY if error.field == "signature.strokes" else SIGN_AGAIN
            if str(message) not in self.signature.errors:
                self.signature.errors = [*self.signature.errors, str(message)]


def open_withdrawal() -> OpenWithdrawal | None:
    """The withdrawal staff sent to this tablet, still waiting (a handed-over browser has none)."""
    tablet = devices.current_tablet()
    return TabletWithdrawals(get_archive()).open_for_tablet(tablet.id if tablet else None)


@bp.route("/withdrawal", methods=["GET", "POST"])
def withdrawal() -> ResponseReturnValue:
    found = open_withdrawal()
    if found is None:
        return redirect(url_for(".index"))
    if session.get("withdrawal_language_set") != found.handoff_id:
        # The page opens in the language the patient read their consent in; the switch on the
        # page changes it.
        session["withdrawal_language_set"] = found.handoff_id
        if found.language in LANGUAGES:
            session["lang"] = found.language
    offered = catalog().languages(found.form_id)
    language = locale() if locale() in offered else None
    definition = catalog().get(found.form_id, language)
    form = WithdrawalSignForm()
    if form.validate_on_submit():
        if (over := devices.refuse_if_over("submit")) is not None:
            return over
        tablet = devices.current_tablet()
        assert tablet is not None
        pad, _ = check_pad(form.part()["signature"])
        assert pad is not None
        try:
            TabletWithdrawals(get_archive()).sign(
                found.handoff_id,
                tablet.id,
                pad,
                service.signing_time(current_app.config["CLINIC_TIMEZONE"]),
                devices.tablet_actor(),
                language=language,
            )
        except (HandoffError, WithdrawalRefused):
            flash(gettext("The front desk closed this withdrawal. Please hand the tablet back."))
            return redirect(url_for(".index"))
        return redirect(url_for(".withdrawal_done"))
    return render_template(
        "tablet/withdrawal.html",
        form=form,
        statement=definition.withdrawal_meaning,
        first_name=found.first_name,
        pad_width=PAD_WIDTH,
        pad_height=PAD_HEIGHT,
        min_extent=max(10.0, SIGNATURE_MIN_EXTENT * PAD_WIDTH),
        page_title=gettext("Withdrawal of consent"),
        in_flow=True,
        switch_language=True,
        offered_languages=offered,
    ), 422 if form.has_errors else 200


@bp.get("/withdrawal/done")
def withdrawal_done() -> ResponseReturnValue:
    return render_template(
        "tablet/withdrawal_done.html",
        page_title=gettext("Thank you"),
        idle_seconds=current_app.config["DONE_CLEAR_SECONDS"],
        idle_warning_seconds=0,
        in_flow=True,
    )
