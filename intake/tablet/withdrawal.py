"""A withdrawal the patient signs on the tablet: the one staff sent to this enrolled tablet,
greeted by first name only, the form's withdrawal statement in the patient's language, and the
pad; recorded and sealed on submit. The tablet never looks a patient up: it only asks which
withdrawal waits for itself. No patient data goes into a URL or a log line."""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, url_for
from flask.typing import ResponseReturnValue
from wtforms import HiddenField

from intake.archive.web import get_archive
from intake.archive.withdrawal_tablet import HandoffError, OpenWithdrawal, TabletWithdrawals
from intake.archive.withdrawals import WithdrawalRefused
from intake.checkin import check_pad
from intake.i18n import gettext, lazy_gettext
from intake.submission import FieldError
from intake.tablet import devices, service
from intake.tablet.forms import EMPTY_PAD, StepForm, _pad
from intake.tablet.handoff_pages import done_page, patient_language, signing_page
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
    offered, language = patient_language(
        "withdrawal_language_set", found.handoff_id, found.language, found.form_id
    )
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
    return signing_page(
        "tablet/withdrawal.html",
        form,
        found.first_name,
        gettext("Withdrawal of consent"),
        offered,
        statement=definition.withdrawal_meaning,
    )


@bp.get("/withdrawal/done")
def withdrawal_done() -> ResponseReturnValue:
    return done_page("tablet/withdrawal_done.html", gettext("Thank you"))
