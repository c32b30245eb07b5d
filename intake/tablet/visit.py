"""A returning patient's check-in on the tablet: the visit staff started for this enrolled tablet,
greeted by first name only, the form's check-in questions, the side-effects reminder, and the
signature; sealed as the visit's record on submit. The tablet never looks a patient up: it only
asks which visit is open for itself. No patient data goes into a URL or a log line."""

from __future__ import annotations

from flask import current_app, flash, redirect, url_for
from flask.typing import ResponseReturnValue

from intake.archive.visits import OpenVisit, VisitError, Visits
from intake.archive.web import get_archive
from intake.checkin import validate_checkin
from intake.i18n import gettext
from intake.submission import SubmissionInvalid
from intake.tablet import devices, service
from intake.tablet.handoff_pages import done_page, patient_language, signing_page
from intake.tablet.routes import bp, catalog, device
from intake.tablet.visit_form import visit_form


def open_visit() -> OpenVisit | None:
    """The visit staff sent to this tablet, still open (a handed-over browser has none)."""
    tablet = devices.current_tablet()
    return Visits(get_archive()).open_for_tablet(tablet.id if tablet else None)


@bp.route("/visit", methods=["GET", "POST"])
def visit() -> ResponseReturnValue:
    found = open_visit()
    if found is None:
        return redirect(url_for(".index"))
    offered, language = patient_language(
        "visit_language_set", found.visit_id, found.language, found.form_id
    )
    definition = catalog().get(found.form_id, language)
    signed_at = service.signing_time(current_app.config["CLINIC_TIMEZONE"])
    form = visit_form(definition)(signed_at=signed_at)
    if form.validate_on_submit():
        if (over := devices.refuse_if_over("submit")) is not None:
            return over
        tablet = devices.current_tablet()
        assert tablet is not None
        try:
            checkin = validate_checkin(form.part(), definition)
            Visits(get_archive()).check_in(
                found.visit_id,
                tablet.id,
                checkin,
                devices.tablet_actor(),
                device=device(),
                key=f"visit-{found.visit_id}",
            )
        except SubmissionInvalid as invalid:
            form.place_errors(invalid.errors)
        except VisitError:
            flash(gettext("The front desk closed this visit. Please hand the tablet back."))
            return redirect(url_for(".index"))
        else:
            return redirect(url_for(".visit_done"))
    return signing_page(
        "tablet/visit.html",
        form,
        found.first_name,
        gettext("Check-in"),
        offered,
        definition=definition,
    )


@bp.get("/visit/done")
def visit_done() -> ResponseReturnValue:
    return done_page("tablet/visit_done.html", gettext("Thank you"))
