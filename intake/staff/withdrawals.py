"""Recording a withdrawal (clinicians): the day, the reason, and the patient's signature on this
screen when they are here; the sealed withdrawal record's PDF."""

from __future__ import annotations

from io import BytesIO

from flask import abort, flash, redirect, render_template, send_file, url_for
from flask.typing import ResponseReturnValue

from intake.archive import withdrawals
from intake.archive.errors import ConsentMissing
from intake.archive.records import RecordMissing
from intake.archive.web import get_archive
from intake.archive.withdrawals import (
    ALREADY,
    BEFORE_SIGNING,
    FUTURE_DAY,
    LONG_REASON,
    NO_PATIENT,
    NO_REASON,
    REASON_MAX,
    VOID,
    WithdrawalRefused,
    WithdrawalRequest,
)
from intake.checkin import check_pad
from intake.i18n import gettext
from intake.staff.auth import allow
from intake.staff.pages import actor, bp, catalog, consent_or_404, me
from intake.staff.patient_forms import SIGNS_HERE, WithdrawalForm
from intake.submission import SIGNATURE_MIN_EXTENT
from intake.tablet.forms import PAD_HEIGHT, PAD_WIDTH


def refusal_text(code: str) -> str:
    return {
        NO_REASON: lambda: gettext("Write why the patient withdrew."),
        LONG_REASON: lambda: gettext(
            "The reason can be at most %(count)d characters.", count=REASON_MAX
        ),
        FUTURE_DAY: lambda: gettext("Withdrawn on cannot be after today."),
        BEFORE_SIGNING: lambda: gettext("Withdrawn on cannot be before the consent was signed."),
        ALREADY: lambda: gettext("This consent was withdrawn already."),
        VOID: lambda: gettext("This consent is void: there is nothing to withdraw."),
        NO_PATIENT: lambda: gettext("This consent is filed under no patient."),
    }[code]()


def withdrawal_meaning(form_id: str) -> str:
    """What the patient's signature on a withdrawal means, in the form's words."""
    try:
        return catalog().get(form_id).withdrawal_meaning
    except KeyError:
        return ""


@bp.route("/consents/<consent_id>/withdraw", methods=["GET", "POST"])
@allow("clinician")
def withdraw(consent_id: str) -> ResponseReturnValue:
    archive = get_archive()
    consent = consent_or_404(consent_id)
    form = WithdrawalForm()
    if not form.is_submitted():
        form.withdrawn_on.data = archive.clock().date()
    if form.validate_on_submit():
        pad = None
        if form.present.data == SIGNS_HERE:
            pad, problems = check_pad(form.pad_data())
            if problems:
                form.signature.errors = [
                    gettext("Please sign on the pad, or say the patient is not here.")
                ]
        if not form.signature.errors:
            request = WithdrawalRequest(form.withdrawn_on.data, form.reason.data or "", pad)
            try:
                withdrawals.withdraw(archive, consent_id, request, me(), actor())
            except ConsentMissing:
                abort(404)
            except WithdrawalRefused as refused:
                field = getattr(form, refused.field, None)
                if field is None:
                    form.form_errors.append(refusal_text(refused.code))
                else:
                    field.errors = [*field.errors, refusal_text(refused.code)]
            else:
                flash(
                    gettext(
                        "The withdrawal is recorded and sealed. No further injection can be "
                        "recorded under this consent."
                    )
                )
                if consent.patient_id:
                    return redirect(url_for(".patient", patient_id=consent.patient_id))
                return redirect(url_for(".consent", consent_id=consent_id))
    return render_template(
        "staff/withdraw.html",
        consent=consent,
        form=form,
        meaning=withdrawal_meaning(consent.form_id),
        pad_width=PAD_WIDTH,
        pad_height=PAD_HEIGHT,
        min_extent=max(10.0, SIGNATURE_MIN_EXTENT * PAD_WIDTH),
        page_title=gettext("Record a withdrawal"),
        section="patients",
    ), 422 if form.errors or form.form_errors else 200


@bp.get("/consents/<consent_id>/withdrawal.pdf")
@allow("front-desk")
def withdrawal_pdf(consent_id: str) -> ResponseReturnValue:
    """The sealed withdrawal record, as stored; counted as a view in the audit trail."""
    archive = get_archive()
    found = withdrawals.withdrawal_of(archive, consent_id)
    if found is None or found.record_id is None:
        abort(404)
    try:
        pdf = archive.records.pdf(found.record_id)
    except RecordMissing:
        abort(404)
    archive.record("record downloaded", actor(), found.record_id)
    return send_file(
        BytesIO(pdf),
        mimetype="application/pdf",
        download_name=f"withdrawal-{found.record_id}.pdf",
    )
