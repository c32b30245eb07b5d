"""The patients: their search, and a patient's page (details, consents with their validity, and
the sections the visits and injections add through `PATIENT_SECTIONS`).

Who may do what, by the roles of `intake.archive.staff`: the front desk sees patients and their
pages (they start visits from there); clinicians also confirm or reject a possible match and
record a withdrawal; admins also merge any two records with a reason.

No patient data goes into a URL: the search form posts, and its criteria are kept on the server
with the login (`StaffSession.patient_search`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from markupsafe import Markup

from intake.archive import patient_match, patient_search, patients
from intake.archive.course_models import Patient
from intake.archive.patient_match import BIRTH_AND_WORD, NAME, NAME_AND_BIRTH
from intake.archive.patients import (
    CHANGED,
    CURRENT,
    EXPIRED,
    NO_FORM,
    NONE,
    UNSEALED,
    VOIDED,
    WITHDRAWN,
    PatientMissing,
    Validity,
)
from intake.archive.service import Archive
from intake.archive.web import get_archive
from intake.archive.withdrawal_tablet import waiting_of_patient
from intake.i18n import gettext
from intake.staff.auth import TOKEN, allow
from intake.staff.filters import day
from intake.staff.pages import actor, bp
from intake.staff.patient_forms import PatientSearchForm

#: The sections of a patient's page after the consents, in order: (template, context function).
#: Each template is rendered on its own with the dict its function returns for
#: (archive, patient) plus `patient`, and placed on the page; another area appends its own
#: (visits; injections and the next due date) without touching the page's template.
PATIENT_SECTIONS: list[tuple[str, Callable[[Archive, Patient], dict[str, Any]]]] = []


def validity_text(validity: Validity) -> str:
    """A consent's validity in the page's language: "current until Jan 3, 2027", or why not."""
    detail = validity.detail
    return {
        CURRENT: lambda: gettext("current until %(day)s", day=day(detail)),
        EXPIRED: lambda: gettext("consent of %(day)s expired", day=day(detail)),
        CHANGED: lambda: gettext("the form's text changed: version %(version)s", version=detail),
        WITHDRAWN: lambda: gettext("withdrawn on %(day)s", day=day(detail)),
        VOIDED: lambda: gettext("voided"),
        UNSEALED: lambda: gettext("its sealed PDF is not made yet"),
        NO_FORM: lambda: gettext("its form is no longer offered"),
        NONE: lambda: gettext("no consent on file"),
    }[validity.code]()


@bp.app_template_filter("validity")
def validity_filter(validity: Validity) -> str:
    return validity_text(validity)


@bp.app_template_global()
def match_basis(basis: str) -> str:
    """Why two records look like one person, in the page's language."""
    return {
        NAME_AND_BIRTH: lambda: gettext("Same name and date of birth."),
        NAME: lambda: gettext("Same name; the dates of birth differ or one is missing."),
        BIRTH_AND_WORD: lambda: gettext("Same date of birth and a name in common."),
    }[basis]()


# --- the search ------------------------------------------------------------------------------


def show_patients(
    form: PatientSearchForm, criteria: patient_search.PatientCriteria | None
) -> ResponseReturnValue:
    archive = get_archive()
    page = None
    cursor = request.args.get("cursor")
    if criteria is not None:
        with archive.sessions() as db:
            page = patient_search.search(
                db,
                criteria,
                cursor=cursor,
                postgresql=archive.engine.dialect.name == "postgresql",
            )
    return render_template(
        "staff/patients.html",
        form=form,
        criteria=criteria,
        page=page,
        cursor=cursor,
        page_title=gettext("Patients"),
        section="patients",
    ), 422 if form.errors else 200


@bp.get("/patients")
@allow("front-desk")
def patients_list() -> ResponseReturnValue:
    with get_archive().sessions() as db:
        criteria = patient_search.remembered(db, session.get(TOKEN))
    form = PatientSearchForm(data={"name": criteria.name, "date_of_birth": criteria.date_of_birth})
    return show_patients(form, criteria)


@bp.post("/patients/search")
@allow("front-desk")
def patients_search() -> ResponseReturnValue:
    """Keep the search with the login, then show it: the criteria never travel in a URL."""
    form = PatientSearchForm()
    clear = bool(request.form.get("clear"))
    if not clear and not form.validate_on_submit():
        return show_patients(form, None)
    with get_archive().transaction() as db:
        patient_search.remember(db, session[TOKEN], None if clear else form.criteria())
    return redirect(url_for(".patients_list"))


# --- a patient's page ------------------------------------------------------------------------


def patient_or_404(patient_id: str) -> Patient:
    try:
        return patients.find(get_archive(), patient_id)
    except PatientMissing:
        abort(404)


def rendered_sections(archive: Archive, patient: Patient) -> list[Markup]:
    return [
        Markup(render_template(template, patient=patient, **context(archive, patient)))
        for template, context in PATIENT_SECTIONS
    ]


def show_patient(patient: Patient, **extra: Any) -> ResponseReturnValue:
    archive = get_archive()
    if patient.merged_into is not None:
        return show_merged(patient)
    record = patients.patient_file(archive, patient.id)
    archive.record("patient viewed", actor(), patient.id)
    return render_template(
        "staff/patient.html",
        patient=record.patient,
        file=record,
        sections=rendered_sections(archive, record.patient),
        matches=patient_match.matches_of(archive, patient.id),
        merged_here=patient_match.merged_into_this(archive, patient.id),
        waiting_withdrawals=waiting_of_patient(archive, patient.id),
        page_title=gettext("Patient"),
        section="patients",
        **extra,
    )


def show_merged(patient: Patient) -> ResponseReturnValue:
    """A merged record's page: where it went, when, by whom and why."""
    archive = get_archive()
    kept = patients.kept_record(archive, patient.id)
    archive.record("patient viewed", actor(), patient.id)
    return render_template(
        "staff/patient_merged.html",
        patient=patient,
        kept=kept,
        merged_by=patients.staff_name(archive, patient.merged_by),
        page_title=gettext("Patient"),
        section="patients",
    )


@bp.get("/patients/<patient_id>")
@allow("front-desk")
def patient(patient_id: str) -> ResponseReturnValue:
    return show_patient(patient_or_404(patient_id))
