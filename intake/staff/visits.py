"""Visits on the patient's page: the front desk starts one for an enrolled tablet (only under a
current consent) and cancels an open one; a clinician reviews a flagged check-in; anyone who sees
the page may open a visit's sealed PDF. The page's "Visits" section is added through
`PATIENT_SECTIONS`; no patient data goes into a URL (ids only)."""

from __future__ import annotations

from io import BytesIO
from typing import Any

from flask import abort, flash, g, redirect, send_file, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length

from intake.archive.course_models import VISIT, Patient
from intake.archive.models import Tablet
from intake.archive.patients import current_consent
from intake.archive.records import RecordMissing
from intake.archive.service import Archive
from intake.archive.visits import (
    NO_NOTE,
    NO_PATIENT,
    NO_TABLET,
    NOT_CURRENT,
    NOT_FLAGGED,
    NOT_OPEN,
    NOTE_MAX,
    TABLET_BUSY,
    VisitError,
    Visits,
)
from intake.archive.web import get_archive
from intake.i18n import gettext, lazy_gettext
from intake.staff.auth import allow
from intake.staff.pages import actor, bp, me
from intake.staff.patients import PATIENT_SECTIONS, patient_or_404, show_patient

SECTION = "staff/_patient_visits.html"


class StartVisitForm(FlaskForm):
    tablet = SelectField(
        lazy_gettext("Tablet"),
        validators=[InputRequired(lazy_gettext("Choose the tablet the patient will use."))],
        validate_choice=False,
    )


class CancelVisitForm(FlaskForm):
    """The Cancel button of an open visit."""


class ReviewVisitForm(FlaskForm):
    note = TextAreaField(
        lazy_gettext("Review note"),
        validators=[
            InputRequired(lazy_gettext("Write what you found, for the record.")),
            Length(max=NOTE_MAX),
        ],
        description=lazy_gettext("What you checked and decided. Kept with the visit, audited."),
        render_kw={"rows": 3},
    )


def review_prefix(visit_id: str) -> str:
    """Each visit's review form has fields of its own on the page."""
    return f"review-{visit_id}"


def refusal(error: VisitError) -> str:
    """Why a visit action was refused, in the page's language."""
    return {
        NO_PATIENT: lambda: gettext("This patient record cannot take visits (it was merged)."),
        NO_TABLET: lambda: gettext("That tablet is not enrolled (or was revoked)."),
        TABLET_BUSY: lambda: gettext(
            "That tablet already has a visit open: cancel it, or choose another tablet."
        ),
        NOT_CURRENT: lambda: gettext(
            "No current consent (%(reason)s): the next visit is a full consent.",
            reason=error.detail,
        ),
        NOT_OPEN: lambda: gettext("The visit is no longer open."),
        NOT_FLAGGED: lambda: gettext("This visit has no answer to review."),
        NO_NOTE: lambda: gettext("Write what you found, for the record."),
    }[error.code]()


def enrolled_tablets(archive: Archive) -> list[Tablet]:
    with archive.sessions() as session:
        return list(
            session.scalars(
                select(Tablet).where(Tablet.revoked_at.is_(None)).order_by(Tablet.name, Tablet.id)
            )
        )


def visits_section(archive: Archive, patient: Patient) -> dict[str, Any]:
    """The "Visits" section: the start form (when the consent is current), every visit with its
    answers, flags and review, and the forms a staff member's role allows."""
    today = archive.clock().date()
    with archive.sessions() as session:
        current = current_consent(session, patient.id, archive.catalog, today)
    form = g.get("start_visit_form") or StartVisitForm()
    form.tablet.choices = [SelectChoice("", gettext("Choose a tablet"))] + [
        SelectChoice(t.id, t.name) for t in enrolled_tablets(archive)
    ]
    review_forms = g.get("review_forms", {})
    views = Visits(archive).of_patient(patient.id)
    return {
        "visits": views,
        "start_form": form if current.consent is not None else None,
        "cancel_form": CancelVisitForm(),
        "review_forms": {
            v.visit.id: review_forms.get(v.visit.id)
            or ReviewVisitForm(prefix=review_prefix(v.visit.id))
            for v in views
            if v.visit.needs_review
        },
    }


PATIENT_SECTIONS.append((SECTION, visits_section))


@bp.post("/patients/<patient_id>/visits")
@allow("front-desk")
def start_visit(patient_id: str) -> ResponseReturnValue:
    patient = patient_or_404(patient_id)
    form = StartVisitForm()
    form.tablet.choices = [SelectChoice(t.id, t.name) for t in enrolled_tablets(get_archive())]
    if form.validate_on_submit():
        try:
            Visits(get_archive()).start(
                patient.id, form.tablet.data or "", actor(), today=get_archive().clock().date()
            )
        except VisitError as error:
            form.tablet.errors = [*form.tablet.errors, refusal(error)]
        else:
            flash(gettext("Visit started: the patient can check in on the tablet now."))
            return redirect(url_for(".patient", patient_id=patient.id) + "#visits-title")
    g.start_visit_form = form
    page = show_patient(patient)
    return page if isinstance(page, tuple) else (page, 422)


@bp.post("/visits/<visit_id>/cancel")
@allow("front-desk")
def cancel_visit(visit_id: str) -> ResponseReturnValue:
    visits = Visits(get_archive())
    visit = visit_or_404(visits, visit_id)
    if CancelVisitForm().validate_on_submit():
        try:
            visits.cancel(visit.id, actor())
        except VisitError as error:
            flash(refusal(error))
        else:
            flash(gettext("Visit cancelled."))
    return redirect(url_for(".patient", patient_id=visit.patient_id) + "#visits-title")


@bp.post("/visits/<visit_id>/review")
@allow("clinician")
def review_visit(visit_id: str) -> ResponseReturnValue:
    visits = Visits(get_archive())
    visit = visit_or_404(visits, visit_id)
    form = ReviewVisitForm(prefix=review_prefix(visit.id))
    if form.validate_on_submit():
        try:
            visits.review(visit.id, me(), form.note.data or "", actor())
        except VisitError as error:
            form.note.errors = [*form.note.errors, refusal(error)]
        else:
            flash(gettext("Review kept with the visit."))
            return redirect(url_for(".patient", patient_id=visit.patient_id) + "#visits-title")
    g.review_forms = {visit.id: form}
    page = show_patient(patient_or_404(visit.patient_id))
    return page if isinstance(page, tuple) else (page, 422)


@bp.get("/visits/<visit_id>/pdf")
@allow("front-desk")
def visit_pdf(visit_id: str) -> ResponseReturnValue:
    """The visit's sealed check-in PDF, downloaded (audited)."""
    archive = get_archive()
    visit = visit_or_404(Visits(archive), visit_id)
    if visit.record_id is None:
        abort(404)
    try:
        pdf = archive.records.pdf(visit.record_id)
    except RecordMissing:
        abort(404)
    archive.record("record downloaded", actor(), visit.record_id)
    return send_file(
        BytesIO(pdf),
        mimetype="application/pdf",
        as_attachment=True,
        download_name=f"{VISIT}-{visit.record_id}.pdf",
    )


def visit_or_404(visits: Visits, visit_id: str):
    try:
        return visits.get(visit_id)
    except VisitError:
        abort(404)
