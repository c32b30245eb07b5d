"""The injection record (clinicians): a checked-in visit's injection, signed with the clinician's
password (and second factor) and sealed as its own PDF; a correction that supersedes a record;
and the injections section of the patient's page (their injections with lot and site, the
reactions, the next due day)."""

from __future__ import annotations

from datetime import datetime
from io import BytesIO
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    send_file,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from wtforms.fields.choices import SelectChoice

from intake.archive.course_models import INJECTION, Injection, Patient
from intake.archive.injections import (
    LOT_EXPIRED,
    LOT_RECALLED,
    NO_CONSENT,
    NOT_CHECKED_IN,
    STOP_NOT_REVIEWED,
    TOO_SOON,
    VISIT_CLOSED,
    VISIT_NOT_REVIEWED,
    InjectionEntry,
    InjectionError,
    InjectionMissing,
    InjectionRefused,
    Injections,
    Refusal,
    first_visit,
)
from intake.archive.lots import Lots
from intake.archive.patients import current_consent
from intake.archive.records import RecordMissing
from intake.archive.service import Archive
from intake.archive.staff import StaffError
from intake.archive.web import get_archive
from intake.i18n import gettext, lazy_gettext, locale
from intake.staff.auth import TOKEN, allow
from intake.staff.filters import day
from intake.staff.forms import ConfirmForm, show_error
from intake.staff.injection_forms import CorrectionForm, InjectionForm
from intake.staff.lots import clinic_today
from intake.staff.pages import actor, bp, me
from intake.staff.patients import PATIENT_SECTIONS, validity_text

#: What each bad input says at its field.
INPUT_MESSAGES = {
    "required": lazy_gettext("This field is required."),
    "out-of-range": lazy_gettext("This is more than one injection holds, or not above zero."),
    "not-a-number": lazy_gettext("Write a number, such as 1 or 0.5."),
    "future": lazy_gettext("This time is in the future."),
    "too-long": lazy_gettext("This is too long."),
    "superseded": lazy_gettext("This record was corrected already: correct the newest one."),
    "not-a-clinician": lazy_gettext("Only a clinician signs an injection record."),
}
#: How a site on a side reads on the pages.
SITE_LABELS = {
    "deltoid-left": lazy_gettext("Left deltoid"),
    "deltoid-right": lazy_gettext("Right deltoid"),
    "gluteal-left": lazy_gettext("Left gluteal"),
    "gluteal-right": lazy_gettext("Right gluteal"),
    "vastus-lateralis-left": lazy_gettext("Left vastus lateralis"),
    "vastus-lateralis-right": lazy_gettext("Right vastus lateralis"),
}
REACTION_NONE = lazy_gettext("None")


def refusal_text(refusal: Refusal, consent_reason: str | None = None) -> str:
    """A refusal in the page's language (`consent_reason`: why no consent is current, worded
    for the page, in place of the archive's English detail)."""
    detail = consent_reason if refusal.code == NO_CONSENT and consent_reason else refusal.detail
    if refusal.code == TOO_SOON:
        days, minimum, last = detail.split("|")
        return gettext(
            "The last injection was on %(last)s, %(days)s days ago: the course allows one "
            "%(minimum)s days after the last at the soonest. To give it anyway, write why.",
            last=day(last),
            days=days,
            minimum=minimum,
        )
    words = {
        NO_CONSENT: lambda: gettext(
            "No current consent (%(reason)s): the patient signs the full consent first.",
            reason=detail,
        ),
        STOP_NOT_REVIEWED: lambda: gettext(
            "The consent has a STOP screening answer that no clinician has reviewed yet."
        ),
        VISIT_NOT_REVIEWED: lambda: gettext(
            "A check-in answer is flagged and no clinician has reviewed it yet."
        ),
        NOT_CHECKED_IN: lambda: gettext("The patient has not checked in on the tablet yet."),
        VISIT_CLOSED: lambda: gettext("This visit was cancelled."),
        LOT_EXPIRED: lambda: gettext("This lot expired on %(day)s.", day=day(detail)),
        LOT_RECALLED: lambda: gettext("This lot is recalled: %(reason)s", reason=detail),
    }
    return words[refusal.code]()


def zone() -> ZoneInfo | None:
    name = current_app.config["CLINIC_TIMEZONE"]
    return ZoneInfo(name) if name else None


def injections() -> Injections:
    return Injections(get_archive(), zone())


def _number(text: str | None) -> float | None:
    text = (text or "").strip().replace(",", ".")
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise InjectionError("", "not-a-number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise InjectionError("", "not-a-number")
    return value


def _aware(moment: datetime) -> datetime:
    """A time typed on the page, read in the clinic's time zone (else the server's)."""
    where = zone()
    return moment.replace(tzinfo=where) if where else moment.astimezone()


def entry_of(form: InjectionForm) -> InjectionEntry:
    """The form's entry; `InjectionError` for a number that is not one."""
    numbers: dict[str, float | None] = {}
    for name in ("dose_mg", "volume_ml"):
        try:
            numbers[name] = _number(form[name].data)
        except InjectionError:
            raise InjectionError(name, "not-a-number") from None
    site, _, side = (form.site.data or "").rpartition("-")
    given = form.given_at.data
    return InjectionEntry(
        lot_id=form.lot_id.data or "",
        dose_mg=numbers["dose_mg"],
        volume_ml=numbers["volume_ml"],
        site=site,
        side=side,
        given_at=_aware(given) if given else None,
        notes=form.notes.data or "",
        reaction=form.reaction.data or "",
        reaction_action=form.reaction_action.data or "",
        override_reason=form.override_reason.data or "",
    )


def show_at(form: FlaskForm, name: str, message: str) -> None:
    field = form._fields.get(name)
    if field is None:
        form.form_errors.append(message)
    else:
        field.errors = [*field.errors, message]


def _choices(form: InjectionForm, archive: Archive, form_id: str | None) -> None:
    form.lot_id.choices = [
        SelectChoice(lot.id, f"{lot.product} {lot.strength} · {lot.lot_number}")
        for lot in Lots(archive).usable(clinic_today())
    ]
    tiers = []
    if form_id is not None:
        # The form's own words for each tier, in the page's language when the form has it.
        language = locale() if locale() in archive.catalog.languages(form_id) else None
        tiers = [
            SelectChoice(t.tier, t.heading)
            for t in archive.catalog.get(form_id, language).side_effects
        ]
    form.reaction.choices = [SelectChoice("none", str(REACTION_NONE)), *tiers]
    if not form.is_submitted():
        form.reaction.data = form.reaction.data or "none"
        now = archive.clock().astimezone(zone()).replace(second=0, microsecond=0, tzinfo=None)
        form.given_at.data = form.given_at.data or now


def _signed(form: InjectionForm, call) -> Any:
    """Run `call`, putting each refusal at its field; the outcome, or None."""
    try:
        return call()
    except InjectionError as error:
        show_at(form, error.field, str(INPUT_MESSAGES.get(error.code, error.code)))
    except InjectionRefused as refused:
        for refusal in refused.refusals:
            show_at(form, refusal.field, refusal_text(refusal))
    except StaffError as error:
        show_error(form, error)
    return None


@bp.route("/visits/<visit_id>/injection", methods=["GET", "POST"])
@allow("clinician")
def record_injection(visit_id: str) -> ResponseReturnValue:
    service = injections()
    try:
        found = service.situation(visit_id, clinic_today())
    except InjectionMissing:
        abort(404)
    consent = found.current.consent
    form = InjectionForm()
    _choices(form, get_archive(), consent.form_id if consent is not None else None)
    if found.given is None and not found.refusals and form.validate_on_submit():
        outcome = _signed(
            form,
            lambda: service.record(
                visit_id,
                entry_of(form),
                me(),
                token=session.get(TOKEN),
                password=form.password.data or "",
                code=form.code.data or "",
                actor=actor(),
                today=clinic_today(),
            ),
        )
        if outcome is not None:
            if outcome.made:
                flash(gettext("The injection is recorded and sealed."))
            else:
                flash(gettext("Another clinician recorded this visit's injection first."))
            return redirect(url_for(".patient", patient_id=found.patient.id))
    return render_template(
        "staff/injection.html",
        found=found,
        consent=consent,
        form=form,
        refusals=refusal_links(found),
        site_labels=SITE_LABELS,
        page_title=gettext("Injection record"),
        section="today",
    ), 422 if form.errors else 200


@bp.post("/consents/<consent_id>/first-injection")
@allow("clinician")
def first_injection(consent_id: str) -> ResponseReturnValue:
    """The first injection, right after the full consent: its visit is the consent's own."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        visit_id = first_visit(get_archive(), consent_id, actor())
    except InjectionMissing:
        abort(404)
    return redirect(url_for(".record_injection", visit_id=visit_id))


@bp.route("/injections/<injection_id>/correct", methods=["GET", "POST"])
@allow("clinician")
def correct_injection(injection_id: str) -> ResponseReturnValue:
    service = injections()
    try:
        old = service.get(injection_id)
        found = service.situation(old.visit_id, clinic_today())
    except InjectionMissing:
        abort(404)
    form = CorrectionForm(obj=Prefill(old))
    _choices(form, get_archive(), get_archive().get(old.consent_id).form_id)
    if old.superseded_by is None and form.validate_on_submit():
        outcome = _signed(
            form,
            lambda: service.correct(
                injection_id,
                entry_of(form),
                form.correction_reason.data or "",
                me(),
                token=session.get(TOKEN),
                password=form.password.data or "",
                code=form.code.data or "",
                actor=actor(),
            ),
        )
        if outcome is not None:
            flash(gettext("The correction is recorded and sealed; the old record is kept."))
            return redirect(url_for(".patient", patient_id=old.patient_id))
    return render_template(
        "staff/injection.html",
        found=found,
        consent=found.current.consent,
        form=form,
        old=old,
        refusals=[],
        site_labels=SITE_LABELS,
        page_title=gettext("Correct an injection record"),
        section="today",
    ), 422 if form.errors else 200


class Prefill:
    """An old record's values, as the correction form's first values."""

    def __init__(self, old: Injection) -> None:
        self.lot_id = old.lot_id
        self.dose_mg = f"{old.dose_mg:g}"
        self.volume_ml = f"{old.volume_ml:g}"
        self.site = f"{old.site}-{old.side}"
        self.given_at = old.given_at.astimezone(zone()).replace(tzinfo=None)
        self.notes = old.notes or ""
        self.reaction = old.reaction
        self.reaction_action = old.reaction_action or ""
        self.override_reason = old.override_reason or ""


@bp.get("/injections/<injection_id>/pdf")
@allow("front-desk")
def injection_pdf(injection_id: str) -> ResponseReturnValue:
    """The injection's sealed record, downloaded (audited)."""
    archive = get_archive()
    try:
        injection = injections().get(injection_id)
        if injection.record_id is None:
            abort(404)
        pdf = archive.records.pdf(injection.record_id)
    except (InjectionMissing, RecordMissing):
        abort(404)
    archive.record("record downloaded", actor(), injection.record_id)
    return send_file(
        BytesIO(pdf),
        mimetype="application/pdf",
        as_attachment=True,
        download_name=f"{INJECTION}-{injection.record_id}.pdf",
    )


def refusal_links(found: Any) -> list[tuple[str, str | None]]:
    """Each refusal's words, with where to deal with it (the consent or the visit to review)."""
    links = {
        STOP_NOT_REVIEWED: lambda r: url_for(".consent", consent_id=r.detail),
        VISIT_NOT_REVIEWED: lambda r: (
            url_for(".patient", patient_id=found.patient.id) + f"#visit-{found.visit.id}"
        ),
    }
    return [
        (
            refusal_text(r, validity_text(found.current.validity)),
            links[r.code](r) if r.code in links else None,
        )
        for r in found.refusals
    ]


def injections_section(archive: Archive, patient: Patient) -> dict[str, Any]:
    """The patient page's injections: each with its lot and site, reactions, and next due."""
    rows = Injections(archive, zone()).of_patient(patient.id)
    # A full consent signed today (the first, or again after one expired) has no check-in: its
    # injection is recorded from here, as long as none is recorded under it yet.
    with archive.sessions() as db:
        first = current_consent(db, patient.id, archive.catalog, clinic_today()).consent
    if first is not None and any(injection.consent_id == first.id for injection, _ in rows):
        first = None
    return {
        "first_consent": first,
        "confirm": ConfirmForm(),
        "injection_rows": rows,
        "site_labels": SITE_LABELS,
        "next_due_on": patient.next_due_on,
        "doses_given": patient.doses_given,
    }


PATIENT_SECTIONS.append(("staff/_patient_injections.html", injections_section))
