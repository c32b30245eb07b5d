"""The tablet flow: welcome, four steps, review, submit, done. Views stay thin.

Each step view loads the draft named by the session, validates the posted form with the shared
checks, hands the answers to `service`, and redirects. No patient data goes into a URL, a cookie
or a log line: the session holds only the draft's random id.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import SQLAlchemyError

from intake.archive.accounts import Accounts
from intake.archive.errors import ArchiveError
from intake.archive.staff import StaffError
from intake.archive.visits import Visits
from intake.archive.web import get_archive
from intake.archive.withdrawal_tablet import TabletWithdrawals
from intake.definition import ConsentDefinition, FormCatalog
from intake.i18n import LANGUAGES, gettext, lazy_gettext, locale, patient_language, say
from intake.pdf.signature import svg_path
from intake.qr import qr_data_uri
from intake.submission import (
    SIGNATURE_MIN_EXTENT,
    USER_AGENT_MAX,
    SubmissionInvalid,
    validate_submission,
)
from intake.tablet import devices, service
from intake.tablet.drafts import (
    DatabaseDrafts,
    Draft,
    Drafts,
    DraftTooLarge,
    FileDrafts,
    TooManyDrafts,
)
from intake.tablet.forms import (
    PAD_HEIGHT,
    PAD_WIDTH,
    DetailsForm,
    ReviewForm,
    SignForm,
    StartForm,
    StepForm,
    TypedSignForm,
    consent_form,
    field_message,
    health_form,
    readable_field,
)

bp = Blueprint("tablet", __name__, url_prefix="/tablet")
devices.register(bp)
log = logging.getLogger(__name__)

#: Step numbers shown as "Step N of 6".
STEP_NUMBERS = {"welcome": 1, "details": 2, "health": 3, "consent": 4, "sign": 5, "review": 6}
#: A step's answers would make the draft larger than it may be.
NOT_KEPT = lazy_gettext("Your answers on this page are too long to keep. Please shorten them.")
#: The address has as many forms open as a tablet may.
TOO_MANY_OPEN = lazy_gettext(
    "Too many forms are open from this tablet. Please finish or start over on one, or ask the "
    "front desk."
)
STEP_TITLES = {
    "details": lazy_gettext("Your details"),
    "health": lazy_gettext("Your health"),
    "consent": lazy_gettext("Consent"),
    "sign": lazy_gettext("Sign"),
    "review": lazy_gettext("Review and submit"),
}


def catalog() -> FormCatalog:
    return current_app.extensions["forms"]


def drafts() -> Drafts:
    """Where drafts live: the archive database when PDFs do (several app servers), else files
    under the instance folder."""
    config = current_app.config
    ttl = config["DRAFT_TTL_SECONDS"]
    limits = {"max_bytes": config["DRAFT_MAX_BYTES"], "per_owner": config["DRAFTS_PER_TABLET"]}
    if config["STORAGE"] == "database":
        lease = config["DRAFT_LEASE_SECONDS"]
        return DatabaseDrafts(get_archive().sessions, ttl, lease=lease, **limits)
    return FileDrafts(Path(config["DRAFTS_DIR"]), ttl, **limits)


def device() -> dict[str, str]:
    """The browser and address the consent was signed from. The User-Agent header may carry
    tabs and other control characters a submission refuses: they become spaces."""
    agent = "".join(
        " " if unicodedata.category(ch)[0] == "C" else ch for ch in request.user_agent.string
    )
    return {"user_agent": " ".join(agent.split())[:USER_AGENT_MAX], "ip": request.remote_addr or ""}


def text_of(form_id: str) -> ConsentDefinition:
    """The form in the patient's language when it has a text in it, else in English."""
    language = patient_language()
    offered = catalog().languages(form_id)
    return catalog().get(form_id, language if language in offered else offered[0])


def definition_or_404(form_id: str) -> ConsentDefinition:
    kiosk = current_app.config["KIOSK_FORM"]
    if kiosk and form_id != kiosk:
        abort(404)
    try:
        return text_of(form_id)
    except KeyError:
        abort(404)


def current_draft() -> Draft | None:
    return drafts().get(session.get("draft_id"))


def open_step(step: str) -> tuple[Draft, ConsentDefinition]:
    """The session's draft at `step`, or a redirect to where the patient should be."""
    draft = current_draft()
    if draft is None:
        if session.pop("draft_id", None):
            flash(gettext("The form was cleared to keep your answers private. Please start again."))
        abort(redirect(url_for(".index")))
    if draft.submitted:
        abort(redirect(url_for(".done")))
    missing = service.next_step_to_fill(draft, step)
    if missing:
        abort(redirect(url_for(f".{missing}")))
    return draft, text_of(draft.form_id)


def save_step(
    step: str,
    draft: Draft,
    form: StepForm,
    confirm: Callable[[Any], bool] | None = None,
) -> ResponseReturnValue | None:
    """Keep what was posted; the redirect onwards (or back), or None to show the errors.

    A language button sends the step's form too: its answers are kept as they are, and the
    same page comes back in the language picked, without errors shown for a page the patient
    has not finished. `confirm` is a further check that places its own errors (a witness's
    login), asked only when the patient goes on."""
    ok = form.validate_on_submit()
    switch = pick_language()
    if confirm is not None:
        goes_on = form.is_submitted() and not switch and "nav" not in request.form
        ok = bool(goes_on and confirm(form)) and ok
    part = form.part()
    if ok and not switch and step in service.READ_STEPS:
        # The language this step's text was read in: the consent is signed in one language.
        part["read_in"] = {**(draft.answers.get("read_in") or {}), step: locale()}
    try:
        service.record_step(drafts(), draft, step, part, ok)
    except DraftTooLarge:
        form.form_errors.append(NOT_KEPT)
        return None
    if switch:
        return redirect(url_for(request.endpoint or f".{step}", **request.args))
    order = ["welcome", *service.STEPS, "review"]
    if step == "sign" and request.form.get("nav") in SIGN_PAGES:
        where = request.form["nav"]
        return redirect(url_for(SIGN_PAGES[where], **({"from": "review"} if from_review() else {})))
    if request.form.get("nav") == "back":
        before = order[order.index(step) - 1]
        if before == "welcome":
            return redirect(url_for(".welcome", form_id=draft.form_id))
        return redirect(url_for(f".{before}"))
    if ok:
        after = "review" if from_review() else order[order.index(step) + 1]
        return redirect(url_for(f".{after}"))
    return None


def from_review() -> bool:
    return request.args.get("from") == "review"


def show_step(
    step: str,
    form: StepForm,
    definition: ConsentDefinition,
    template: str = "",
    **context: object,
):
    status = 422 if form.has_errors else 200
    return (
        render_template(
            f"tablet/{template or step}.html",
            form=form,
            definition=definition,
            step=STEP_NUMBERS[step],
            page_title=STEP_TITLES[step],
            in_flow=True,
            switch_language=True,
            lang_form="step-form",
            offered_languages=catalog().languages(definition.id),
            **context,
        ),
        status,
    )


@bp.app_template_filter("signature_path")
def signature_path(stroke: list[list[float]]) -> str:
    """A drawn stroke as SVG path data, with the curve the pad and the PDF draw."""
    return svg_path([(float(x), float(y)) for x, y in stroke])


@bp.context_processor
def flow_settings() -> dict[str, object]:
    config = current_app.config
    return {
        "step_count": len(STEP_NUMBERS),
        "idle_seconds": config["IDLE_TIMEOUT_SECONDS"],
        "idle_warning_seconds": config["IDLE_WARNING_SECONDS"],
        "kiosk": bool(config["KIOSK_FORM"]),
    }


@bp.errorhandler(ArchiveError)
@bp.errorhandler(SQLAlchemyError)
@bp.errorhandler(OSError)
def could_not_save(error: Exception) -> ResponseReturnValue:
    """The archive or the draft store cannot write (disk full, read-only, database down).

    Nothing the patient entered is dropped: the draft and the session stay as they were, and
    the patient is asked to hand the tablet back so staff can fix it and submit again. The log
    names the failure's class only: its message might quote the answers.
    """
    log.error("tablet: %s could not be saved (%s)", request.path, type(error).__name__)
    return render_template(
        "tablet/hand_back.html", page_title=gettext("Please hand the tablet back")
    ), 503


@bp.get("/")
def index() -> ResponseReturnValue:
    tablet = devices.current_tablet()
    if tablet is not None and TabletWithdrawals(get_archive()).open_for_tablet(tablet.id):
        # Staff sent a withdrawal to this tablet for the patient to sign.
        return redirect(url_for(".withdrawal"))
    if tablet is not None and Visits(get_archive()).open_for_tablet(tablet.id) is not None:
        # Staff started a returning patient's visit for this tablet: the check-in comes first.
        return redirect(url_for(".visit"))
    kiosk = current_app.config["KIOSK_FORM"]
    if kiosk:
        return redirect(url_for(".welcome", form_id=kiosk))
    forms = [text_of(form_id) for form_id in catalog().ids()]
    return render_template("tablet/index.html", forms=forms, page_title=gettext("Choose a form"))


@bp.route("/form/<form_id>", methods=["GET", "POST"])
def welcome(form_id: str) -> ResponseReturnValue:
    definition = definition_or_404(form_id)
    form = StartForm()
    refused = None
    if form.validate_on_submit() and pick_language():
        return redirect(url_for(".welcome", form_id=form_id))
    if form.validate_on_submit():
        if not devices.may_start_another():
            return devices.refused_page()
        if (over := devices.refuse_if_over("session")) is not None:
            return over
        drafts().delete(session.pop("draft_id", None))
        try:
            session["draft_id"] = drafts().create(definition.id, devices.draft_owner()).id
        except TooManyDrafts:
            refused = TOO_MANY_OPEN
        else:
            return redirect(url_for(".details"))
    return render_template(
        "tablet/welcome.html",
        form=form,
        definition=definition,
        refused=refused,
        step=STEP_NUMBERS["welcome"],
        page_title=gettext("Welcome"),
        switch_language=True,
        lang_form="start-form",
        offered_languages=catalog().languages(definition.id),
    ), (429 if refused else 200)


@bp.route("/details", methods=["GET", "POST"])
def details() -> ResponseReturnValue:
    draft, definition = open_step("details")
    initial = DetailsForm.initial(draft.answers) if request.method == "GET" else None
    form = DetailsForm(data=initial)
    if request.method == "POST" and (done := save_step("details", draft, form)):
        return done
    return show_step("details", form, definition)


@bp.route("/health", methods=["GET", "POST"])
def health() -> ResponseReturnValue:
    draft, definition = open_step("health")
    form_class = health_form(definition)
    initial = form_class.initial(draft.answers, definition) if request.method == "GET" else None
    form = form_class(data=initial)
    if request.method == "POST" and (done := save_step("health", draft, form)):
        return done
    return show_step("health", form, definition)


@bp.route("/consent", methods=["GET", "POST"])
def consent() -> ResponseReturnValue:
    draft, definition = open_step("consent")
    form_class = consent_form(definition)
    initial = form_class.initial(draft.answers, definition) if request.method == "GET" else None
    form = form_class(data=initial)
    if request.method == "POST" and (done := save_step("consent", draft, form)):
        return done
    return show_step("consent", form, definition)


#: The sign step's two pages, by the `nav` value of the button that goes from one to the other:
#: the pad (the default) and signing by typed name with a staff witness.
SIGN_PAGES = {"pad": ".sign", "typed": ".sign_typed"}


def _sign_form(form_class: type[SignForm], draft: Draft) -> SignForm:
    patient = draft.answers.get("patient") or {}
    signed_at = service.signing_time(current_app.config["CLINIC_TIMEZONE"])
    return form_class(
        data=form_class.initial(draft.answers) if request.method == "GET" else None,
        legal_name=patient.get("legal_name", ""),
        date_of_birth=service.parse_date(patient.get("date_of_birth")),
        minor=service.is_minor(patient.get("date_of_birth"), signed_at.date()),
        signed_at=signed_at,
    )


def _show_sign(form: SignForm, definition: ConsentDefinition, template: str):
    assert form.signed_at is not None
    return show_step(
        "sign",
        form,
        definition,
        template=template,
        signing_date=form.signed_at.date(),
        pad_width=PAD_WIDTH,
        pad_height=PAD_HEIGHT,
        min_extent=max(10.0, SIGNATURE_MIN_EXTENT * PAD_WIDTH),
    )


@bp.route("/sign", methods=["GET", "POST"])
def sign() -> ResponseReturnValue:
    draft, definition = open_step("sign")
    form = _sign_form(SignForm, draft)
    if request.method == "POST" and (done := save_step("sign", draft, form)):
        return done
    return _show_sign(form, definition, "sign")


def witness_confirms(form: TypedSignForm) -> bool:
    """The staff member present confirms the typed-name signature with their login; their
    errors go on their fields, with the patient's own, and nothing of the login is kept."""
    email, password = (form.witness_email.data or "").strip(), form.witness_password.data or ""
    for f, value in ((form.witness_email, email), (form.witness_password, password)):
        if not value:
            f.errors = [*f.errors, gettext("%(field)s is required", field=f.label.text)]
    if not (email and password):
        return False
    try:
        accounts = Accounts(get_archive(), current_app.extensions["login_policy"])
        form.witness = accounts.witness(
            email, password, form.witness_code.data or "", devices.tablet_actor()
        )
    except StaffError as refused:
        f = form[refused.field]
        f.errors = [*f.errors, say(refused.message)]
        return False
    return True


@bp.route("/sign/typed", methods=["GET", "POST"])
def sign_typed() -> ResponseReturnValue:
    """Signing by typed name, witnessed by a staff member: never the default, reached only
    from the sign step's "I can't sign with my finger"."""
    draft, definition = open_step("sign")
    form = _sign_form(TypedSignForm, draft)
    assert isinstance(form, TypedSignForm)
    if request.method == "POST" and (
        done := save_step("sign", draft, form, confirm=witness_confirms)
    ):
        return done
    return _show_sign(form, definition, "sign_typed")


@bp.get("/review")
def review() -> ResponseReturnValue:
    draft, definition = open_step("review")
    data = service.submission_data(draft, device())
    problems = []
    try:
        validate_submission(data, catalog())
    except SubmissionInvalid as invalid:
        for error in invalid.errors:
            step = service.STEP_OF_PART.get(error.field.split(".")[0].split("[")[0], "details")
            problems.append(
                (
                    url_for(f".{step}", **{"from": "review"}),
                    STEP_TITLES[step],
                    field_message(readable_field(error.field), error),
                )
            )
    if (step := service.read_in_another_language(draft, locale())) is not None:
        problems.append(
            (
                url_for(f".{step}", **{"from": "review"}),
                STEP_TITLES[step],
                gettext(
                    "you answered this step in another language: please go through it again in "
                    "this page's language, so that you sign the text you read"
                ),
            )
        )
    return render_template(
        "tablet/review.html",
        form=ReviewForm(submit_token=draft.submit_token),
        definition=definition,
        data=data,
        problems=problems,
        step=STEP_NUMBERS["review"],
        page_title=STEP_TITLES["review"],
        in_flow=True,
        switch_language=True,
        offered_languages=catalog().languages(definition.id),
    )


@bp.post("/submit")
def submit() -> ResponseReturnValue:
    form = ReviewForm()
    form.validate_on_submit()
    if (over := devices.refuse_if_over("submit")) is not None:
        return over
    try:
        service.submit(
            drafts(),
            session.get("draft_id"),
            form.submit_token.data or "",
            catalog=catalog(),
            archive=get_archive(),
            actor=devices.tablet_actor(),
            device=device(),
            copy_ttl=current_app.config["PATIENT_COPY_TTL_SECONDS"],
            language=locale(),
        )
    except service.SubmitRefused:
        flash(
            gettext("This form was already cleared, so nothing was submitted. Please start again.")
        )
        return redirect(url_for(".index"))
    except SubmissionInvalid:
        return redirect(url_for(".review"))
    devices.mark_submitted()
    return redirect(url_for(".done"))


@bp.get("/done")
def done() -> ResponseReturnValue:
    draft = current_draft()
    if draft is None or not draft.submitted:
        return redirect(url_for(".index"))
    copy_qr = None
    if service.patient_copy_available(drafts(), draft) and service.copy_ready(get_archive(), draft):
        # The link is for the patient's phone: the tablet shows it only as a QR code.
        copy_qr = qr_data_uri(url_for("copy.take", token=draft.copy_token, _external=True))
    return render_template(
        "tablet/done.html",
        definition=text_of(draft.form_id),
        copy_qr=copy_qr,
        copy_code=draft.copy_code,
        copy_minutes=current_app.config["PATIENT_COPY_TTL_SECONDS"] // 60,
        copy_until=service.copy_until(draft, current_app.config["CLINIC_TIMEZONE"]),
        idle_seconds=current_app.config["DONE_CLEAR_SECONDS"],
        idle_warning_seconds=0,
        in_flow=True,
        switch_language=True,
        page_title=gettext("Thank you"),
    )


#: The pages whose language switch posts to `language` (a step sends its own form instead).
SWITCH_BACK = {
    "tablet.review",
    "tablet.done",
    "tablet.welcome",
    "tablet.visit",
    "tablet.withdrawal",
}


def pick_language() -> bool:
    """Keep the language a posted language button picked; whether one was."""
    picked = request.form.get("lang")
    if picked not in LANGUAGES:
        return False
    session["lang"] = picked
    return True


@bp.post("/language")
def language() -> ResponseReturnValue:
    """A language button of a page that has no form of its own (the review, the thank-you)."""
    form = StartForm()
    back = request.form.get("back")
    if form.validate_on_submit():
        pick_language()
    if back == "tablet.welcome":
        return redirect(url_for(".welcome", form_id=request.form.get("form_id", "")))
    return redirect(url_for(back if back in SWITCH_BACK else ".index"))


@bp.post("/text-size")
def text_size() -> ResponseReturnValue:
    """The larger-text switch: kept in the session (no patient data) until Start over. The
    page's script sends it in the background and changes the page itself; without the script
    the page comes back."""
    if StartForm().validate_on_submit():
        if request.form.get("size") == "large":
            session["text_size"] = "large"
        else:
            session.pop("text_size", None)
    if request.headers.get("X-Requested-With") == "fetch":
        return "", 204
    back = request.form.get("back", "")
    return redirect(back if back.startswith("/tablet/") and "//" not in back else url_for(".index"))


@bp.post("/wipe")
def wipe() -> Response:
    """Start over: delete the draft and forget the session, so the next patient sees nothing."""
    draft = current_draft()
    drafts().delete(session.get("draft_id"))
    session.clear()
    if draft is not None and not current_app.config["KIOSK_FORM"]:
        return redirect(url_for(".welcome", form_id=draft.form_id))
    return redirect(url_for(".index"))
