"""Recording a withdrawal (clinicians): the day and the reason, then either sent to one of the
clinic's enrolled tablets for the patient to sign there (waiting until they do; staff may
cancel it) or recorded without a signature when the patient is not here; the sealed
withdrawal record's PDF. No patient data goes into a URL (ids only)."""

from __future__ import annotations

from io import BytesIO

from flask import abort, flash, redirect, render_template, send_file, url_for
from flask.typing import ResponseReturnValue
from wtforms.fields.choices import SelectChoice

from intake.archive import withdrawals
from intake.archive.errors import ConsentMissing
from intake.archive.models import Tablet
from intake.archive.records import RecordMissing
from intake.archive.service import Archive
from intake.archive.web import get_archive
from intake.archive.withdrawal_tablet import (
    NO_TABLET,
    NOT_WAITING,
    TABLET_BUSY,
    WAITING,
    HandoffError,
    TabletWithdrawals,
)
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
from intake.i18n import gettext
from intake.staff.auth import allow
from intake.staff.pages import actor, bp, consent_or_404, me
from intake.staff.patient_forms import NOT_PRESENT, CancelWithdrawalForm, WithdrawalForm
from intake.staff.visits import enrolled_tablets


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


def handoff_refusal(code: str) -> str:
    return {
        NO_TABLET: lambda: gettext("That tablet is not enrolled (or was revoked)."),
        TABLET_BUSY: lambda: gettext(
            "That tablet is in use for another patient: wait, or choose another tablet."
        ),
        WAITING: lambda: gettext("This withdrawal is already waiting on a tablet."),
        NOT_WAITING: lambda: gettext("The withdrawal is no longer waiting on the tablet."),
    }[code]()


def where_choices(archive: Archive) -> list[SelectChoice]:
    """Each enrolled tablet the patient may sign on, then "not here"."""
    return [
        SelectChoice(t.id, gettext("On the tablet “%(name)s”", name=t.name))
        for t in enrolled_tablets(archive)
    ] + [
        SelectChoice(NOT_PRESENT, gettext("They are not here to sign (by phone, letter or email)"))
    ]


@bp.route("/consents/<consent_id>/withdraw", methods=["GET", "POST"])
@allow("clinician")
def withdraw(consent_id: str) -> ResponseReturnValue:
    archive = get_archive()
    consent = consent_or_404(consent_id)
    form = WithdrawalForm()
    form.present.choices = where_choices(archive)
    if not form.is_submitted():
        form.withdrawn_on.data = archive.clock().date()
    tablets = TabletWithdrawals(archive)
    if form.validate_on_submit():
        request = WithdrawalRequest(form.withdrawn_on.data, form.reason.data or "")
        try:
            if form.present.data == NOT_PRESENT:
                withdrawals.withdraw(archive, consent_id, request, me(), actor())
            else:
                tablets.start(consent_id, request, form.present.data or "", actor())
        except ConsentMissing:
            abort(404)
        except WithdrawalRefused as refused:
            field = getattr(form, refused.field, None)
            if field is None:
                form.form_errors.append(refusal_text(refused.code))
            else:
                field.errors = [*field.errors, refusal_text(refused.code)]
        except HandoffError as refused:
            form.present.errors = [*form.present.errors, handoff_refusal(refused.code)]
        else:
            if form.present.data != NOT_PRESENT:
                flash(gettext("Sent to the tablet: the patient can read and sign it there now."))
                return redirect(url_for(".withdraw", consent_id=consent_id))
            flash(
                gettext(
                    "The withdrawal is recorded and sealed. No further injection can be "
                    "recorded under this consent."
                )
            )
            if consent.patient_id:
                return redirect(url_for(".patient", patient_id=consent.patient_id))
            return redirect(url_for(".consent", consent_id=consent_id))
    waiting = tablets.waiting(consent_id)
    return render_template(
        "staff/withdraw.html",
        consent=consent,
        form=form,
        handoff=waiting,
        waiting_on=tablet_name(archive, waiting.device_id) if waiting else "",
        cancel_form=CancelWithdrawalForm(),
        page_title=gettext("Record a withdrawal"),
        section="patients",
    ), 422 if form.errors or form.form_errors else 200


@bp.post("/consents/<consent_id>/withdraw/cancel")
@allow("clinician")
def cancel_withdrawal(consent_id: str) -> ResponseReturnValue:
    """Cancel the withdrawal waiting on a tablet for this consent (the patient did not sign)."""
    consent_or_404(consent_id)
    tablets = TabletWithdrawals(get_archive())
    if CancelWithdrawalForm().validate_on_submit():
        waiting = tablets.waiting(consent_id)
        try:
            if waiting is None:
                raise HandoffError(NOT_WAITING)
            tablets.cancel(waiting.id, actor())
        except HandoffError as refused:
            flash(handoff_refusal(refused.code))
        else:
            flash(gettext("Withdrawal cancelled: nothing was recorded."))
    return redirect(url_for(".withdraw", consent_id=consent_id))


def tablet_name(archive: Archive, tablet_id: str) -> str:
    with archive.sessions() as session:
        tablet = session.get(Tablet, tablet_id)
    return tablet.name if tablet else ""


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
