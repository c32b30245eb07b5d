"""Two records of one person: a clinician confirms a possible match (the newer record merges
into the older) or says the two are not the same; an admin merges any two, with a reason."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from wtforms.fields.choices import SelectChoice

from intake.archive import patient_match, patient_search
from intake.archive.course_models import Patient
from intake.archive.patient_match import (
    ALREADY_MERGED,
    LONG_REASON,
    NO_REASON,
    NOT_A_MATCH,
    REASON_MAX,
    SAME_RECORD,
    MergeRefused,
)
from intake.archive.patients import PatientMissing
from intake.archive.web import get_archive
from intake.i18n import gettext
from intake.staff.auth import allow
from intake.staff.pages import actor, bp
from intake.staff.patient_forms import MergeForm
from intake.staff.patients import patient_or_404

#: The most records a name search on the merge page offers.
FIND_LIMIT = 25


def refusal_text(code: str) -> str:
    return {
        SAME_RECORD: lambda: gettext("A record cannot be merged into itself."),
        ALREADY_MERGED: lambda: gettext(
            "One of the two records was merged already: open it to see where it went."
        ),
        NO_REASON: lambda: gettext("Write why these records are one person."),
        LONG_REASON: lambda: gettext(
            "The reason can be at most %(count)d characters.", count=REASON_MAX
        ),
        NOT_A_MATCH: lambda: gettext(
            "These two records are no longer offered as a match. An admin can still merge them."
        ),
    }[code]()


@bp.post("/patients/<patient_id>/same/<other_id>")
@allow("clinician")
def confirm_match(patient_id: str, other_id: str) -> ResponseReturnValue:
    try:
        kept = patient_match.confirm(get_archive(), patient_id, other_id, actor())
    except PatientMissing:
        abort(404)
    except MergeRefused as refused:
        flash(refusal_text(refused.code))
        return redirect(url_for(".patient", patient_id=patient_id))
    flash(gettext("The two records are one now: this is the record that was kept."))
    return redirect(url_for(".patient", patient_id=kept))


@bp.post("/patients/<patient_id>/apart/<other_id>")
@allow("clinician")
def keep_apart(patient_id: str, other_id: str) -> ResponseReturnValue:
    try:
        patient_match.keep_apart(get_archive(), patient_id, other_id, actor())
    except PatientMissing:
        abort(404)
    except MergeRefused as refused:
        flash(refusal_text(refused.code))
    else:
        flash(gettext("Noted: the two records are different people and are not offered again."))
    return redirect(url_for(".patient", patient_id=patient_id))


def merge_candidates(patient: Patient, find: str) -> list[Patient]:
    """The records the merge page offers: a name search's, or this record's possible matches."""
    archive = get_archive()
    if not find.strip():
        return [m.patient for m in patient_match.matches_of(archive, patient.id)]
    with archive.sessions() as db:
        page = patient_search.search(
            db,
            patient_search.PatientCriteria(name=find),
            limit=FIND_LIMIT,
            postgresql=archive.engine.dialect.name == "postgresql",
        )
    return [p for p in page.patients if p.id != patient.id]


@bp.route("/patients/<patient_id>/merge", methods=["GET", "POST"])
@allow("admin")
def merge_patient(patient_id: str) -> ResponseReturnValue:
    """Merge this record into another one the admin picks, with a reason."""
    patient = patient_or_404(patient_id)
    if patient.merged_into is not None:
        return redirect(url_for(".patient", patient_id=patient_id))
    form = MergeForm()
    merging = request.method == "POST" and bool(request.form.get("merge"))
    candidates = merge_candidates(patient, form.find.data or "")
    form.other.choices = [SelectChoice(p.id, p.legal_name) for p in candidates]
    if merging and form.validate_on_submit():
        other = form.other.data or ""
        if not other:
            form.other.errors = [gettext("Pick the record to merge into.")]
        else:
            try:
                patient_match.merge(
                    get_archive(), patient_id, other, form.reason.data or "", actor()
                )
            except PatientMissing:
                form.other.errors = [gettext("Pick the record to merge into.")]
            except MergeRefused as refused:
                field = form.reason if refused.code in (NO_REASON, LONG_REASON) else form.other
                field.errors = [*field.errors, refusal_text(refused.code)]
            else:
                flash(gettext("The two records are one now: this is the record that was kept."))
                return redirect(url_for(".patient", patient_id=other))
    return render_template(
        "staff/patient_merge.html",
        patient=patient,
        candidates=candidates,
        form=form,
        page_title=gettext("Merge two records"),
        section="patients",
    ), 422 if form.errors else 200
