"""Handing the tablet to a patient: this browser's staff login ends and the tablet flow opens,
for that one patient, even on a browser that is not an enrolled tablet."""

from __future__ import annotations

from flask import current_app, redirect, render_template, session, url_for
from flask.typing import ResponseReturnValue

from intake.definition import ConsentDefinition
from intake.i18n import gettext
from intake.staff.auth import TOKEN, allow
from intake.staff.forms import StartSessionForm
from intake.staff.pages import accounts, actor, bp, catalog
from intake.tablet.devices import start_patient_session


def tablet_forms() -> list[ConsentDefinition]:
    """The forms the tablet offers (just one in kiosk mode)."""
    kiosk = current_app.config["KIOSK_FORM"]
    return [catalog().get(form_id) for form_id in ([kiosk] if kiosk else catalog().ids())]


@bp.route("/patient-session", methods=["GET", "POST"])
@allow("front-desk")
def patient_session() -> ResponseReturnValue:
    """Log this browser out of the staff pages, then open the tablet flow for the patient."""
    form = StartSessionForm()
    forms = tablet_forms()
    form.form_id.choices = [d.id for d in forms]
    if form.validate_on_submit():
        accounts().hand_to_patient(session.get(TOKEN), actor(), form.form_id.data)
        session.clear()
        start_patient_session(form.form_id.data)
        return redirect(url_for("tablet.welcome", form_id=form.form_id.data))
    return render_template(
        "staff/patient_session.html",
        form=form,
        forms=forms,
        page_title=gettext("Start a patient session"),
        section="patient",
    ), 422 if form.errors else 200
