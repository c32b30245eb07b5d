"""The staff pages: login, the consent list and search, a consent's page and PDF, review, starting
a patient session, and (admins) accounts, retention and the audit trail. Views stay thin.

Every request first checks the login behind the cookie (`auth.load_staff`), then the role the
view is marked with (`auth.require_role`). No patient data goes into a URL or the cookie: the
search form posts, and its criteria are kept on the server with the login (`StaffSession.search`).
"""

from __future__ import annotations

from dataclasses import replace
from io import BytesIO

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import SQLAlchemyError

from intake.archive import audit
from intake.archive import staff as logins
from intake.archive.audit import Actor
from intake.archive.models import Consent, Staff
from intake.archive.service import (
    ArchiveError,
    ConsentMissing,
    SearchCriteria,
    is_storage_reason,
)
from intake.archive.staff import IDLE_LIMIT, LoginRefused, StaffError, change_staff, create_staff
from intake.archive.web import get_archive, request_actor
from intake.definition import ConsentDefinition, FormCatalog
from intake.staff import service
from intake.staff.auth import TOKEN, allow, current_staff, load_staff, may, require_role
from intake.staff.filters import why_waiting
from intake.staff.forms import (
    ActiveForm,
    ConfirmForm,
    LoginForm,
    NewStaffForm,
    PasswordForm,
    ReviewForm,
    RoleForm,
    SearchForm,
    StartSessionForm,
    show_error,
)

bp = Blueprint("staff", __name__, url_prefix="/staff")

#: How many consents are past retention that the retention page lists at once (oldest first).
RETENTION_PAGE = 100
#: Seconds between two background retries of consents waiting for storage, from staff pages.
RETRY_EVERY = 60.0


def catalog() -> FormCatalog:
    return current_app.extensions["forms"]


def me() -> Staff:
    """The staff member asking (every view but the login page is behind a role)."""
    staff = current_staff()
    assert staff is not None
    return staff


def actor() -> Actor:
    return request_actor(me().id)


def consent_or_404(consent_id: str) -> Consent:
    try:
        return get_archive().get(consent_id)
    except ConsentMissing:
        abort(404)


def clinic_name() -> str:
    ids = catalog().ids()
    return catalog().get(ids[0]).clinic_name if ids else ""


def tablet_forms() -> list[ConsentDefinition]:
    """The forms the tablet offers (just one in kiosk mode)."""
    kiosk = current_app.config["KIOSK_FORM"]
    return [catalog().get(form_id) for form_id in ([kiosk] if kiosk else catalog().ids())]


def load_waiting() -> None:
    """Pending consents that failed to finish, by reason, on `g.waiting` for the banner on every
    staff page: one query on the status index, and only for a logged-in staff member.

    While some wait because storage failed, the archive is also asked to try them again in the
    background, at most once a minute (`RETRY_EVERY`): the request itself does nothing heavy,
    and the banner is gone on a later page once the disk has room again.
    """
    g.waiting = []
    if current_staff() is None:
        return
    archive = get_archive()
    try:
        waiting = archive.waiting()
    except SQLAlchemyError:
        return
    if any(is_storage_reason(reason) for reason, _ in waiting):
        archive.retry_waiting_soon(min_interval=RETRY_EVERY)
    g.waiting = [(why_waiting(reason), count) for reason, count in waiting]


# The login first, then the banner (an error page for the wrong role shows it too), then the role.
bp.before_request(load_staff)
bp.before_request(load_waiting)
bp.before_request(require_role)


@bp.context_processor
def staff_context() -> dict[str, object]:
    archive = get_archive()
    return {
        "me": current_staff(),
        "may": may,
        "seal_certificate": archive.signer().certificate if archive.self_signed else None,
        # The page reloads itself once the server has ended an idle login, so that a tablet
        # left on a consent does not keep showing it.
        "idle_seconds": int(IDLE_LIMIT.total_seconds()) + 5,
        "clinic_name": clinic_name(),
        "waiting": g.get("waiting", []),
    }


@bp.errorhandler(403)
def forbidden(error: Exception) -> ResponseReturnValue:
    return render_template("staff/forbidden.html", page_title="Not for your role"), 403


@bp.errorhandler(404)
def not_found(error: Exception) -> ResponseReturnValue:
    return render_template("staff/not_found.html", page_title="Not found"), 404


@bp.errorhandler(CSRFError)
def expired(error: CSRFError) -> ResponseReturnValue:
    return render_template("staff/expired.html", page_title="Page expired"), 400


# --- logging in and out ----------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
@allow(None)
def login() -> ResponseReturnValue:
    if current_staff() is not None:
        return redirect(url_for(".consents"))
    form = LoginForm()
    refused: LoginRefused | None = None
    if form.validate_on_submit():
        archive = get_archive()
        with archive.transaction() as db:
            try:
                token = logins.login(
                    db, form.email.data, form.password.data, request_actor(), archive.clock()
                )
            except LoginRefused as error:
                # Caught inside the transaction, so the failed attempt is committed to the trail.
                token, refused = None, error
        if token is not None:
            session.clear()
            session[TOKEN] = token
            return redirect(url_for(".consents"))
    status = 429 if refused and refused.wait_minutes else 422 if refused or form.errors else 200
    return render_template(
        "staff/login.html", form=form, refused=refused, page_title="Staff login"
    ), status


def end_login() -> None:
    """End this browser's login for good and forget everything the cookie held."""
    archive = get_archive()
    with archive.transaction() as db:
        logins.logout(db, session.get(TOKEN), actor(), archive.clock())
    session.clear()


@bp.post("/logout")
@allow("front-desk")
def logout() -> ResponseReturnValue:
    end_login()
    flash("You are logged out.")
    return redirect(url_for(".login"))


# --- consents --------------------------------------------------------------------------------


def search_form(**kwargs: object) -> SearchForm:
    form = SearchForm(**kwargs)
    if not may("clinician"):
        del form.needs_review
    return form


def show_consents(form: SearchForm, criteria: SearchCriteria | None) -> ResponseReturnValue:
    page = None
    if criteria is not None:
        page = get_archive().search(criteria, cursor=request.args.get("cursor"))
    return render_template(
        "staff/consents.html",
        form=form,
        criteria=criteria,
        page=page,
        cursor=request.args.get("cursor"),
        page_title="Consents",
        section="consents",
    ), 422 if form.has_errors else 200


@bp.get("/")
@allow("front-desk")
def consents() -> ResponseReturnValue:
    try:
        criteria = SearchCriteria.from_json(g.search)
    except ValueError:
        criteria = SearchCriteria()
    if criteria.needs_review and not may("clinician"):
        criteria = replace(criteria, needs_review=False)
    return show_consents(search_form(data=SearchForm.initial(criteria)), criteria)


@bp.post("/search")
@allow("front-desk")
def search() -> ResponseReturnValue:
    """Keep the search with the login, then show it: the criteria never travel in a URL."""
    form = search_form()
    if request.form.get("clear"):
        service.remember_search(get_archive(), session[TOKEN], None)
        return redirect(url_for(".consents"))
    if not form.validate_on_submit():
        return show_consents(form, None)
    service.remember_search(get_archive(), session[TOKEN], form.criteria())
    return redirect(url_for(".consents"))


def show_consent(consent: Consent, review_form: ReviewForm | None) -> ResponseReturnValue:
    archive = get_archive()
    record = service.consent_record(consent, catalog())
    seal = archive.check(archive.pdf(consent.id)) if consent.pdf_sha256 else None
    archive.record("consent viewed", actor(), consent.id)
    return render_template(
        "staff/consent.html",
        record=record,
        consent=consent,
        seal=seal,
        reviews=archive.reviews(consent.id),
        review_form=review_form,
        retained_until=archive.retained_until(consent),
        page_title="Consent",
        section="consents",
    ), 422 if review_form is not None and review_form.errors else 200


@bp.get("/consents/<consent_id>")
@allow("front-desk")
def consent(consent_id: str) -> ResponseReturnValue:
    return show_consent(consent_or_404(consent_id), ReviewForm() if may("clinician") else None)


def pdf_response(consent_id: str, *, attachment: bool) -> ResponseReturnValue:
    archive = get_archive()
    try:
        pdf = archive.pdf(consent_id)
    except ConsentMissing:
        abort(404)
    archive.record("consent downloaded" if attachment else "consent viewed", actor(), consent_id)
    return send_file(
        BytesIO(pdf),
        mimetype="application/pdf",
        as_attachment=attachment,
        download_name=f"consent-{consent_id}.pdf",
    )


@bp.get("/consents/<consent_id>/pdf")
@allow("front-desk")
def consent_pdf(consent_id: str) -> ResponseReturnValue:
    """The sealed PDF shown in the page (inline); counted as a view in the audit trail."""
    return pdf_response(consent_id, attachment=False)


@bp.get("/consents/<consent_id>/download")
@allow("front-desk")
def download(consent_id: str) -> ResponseReturnValue:
    return pdf_response(consent_id, attachment=True)


@bp.post("/consents/<consent_id>/review")
@allow("clinician")
def review(consent_id: str) -> ResponseReturnValue:
    consent = consent_or_404(consent_id)
    form = ReviewForm()
    if form.validate_on_submit():
        try:
            get_archive().review(consent_id, me(), form.note.data, actor())
        except ConsentMissing:
            abort(404)
        except ArchiveError as error:
            form.note.errors = [*form.note.errors, str(error)]
        else:
            flash("Your review is kept with the consent. The signed PDF is unchanged.")
            return redirect(url_for(".consent", consent_id=consent_id))
    return show_consent(consent, form)


# --- handing the tablet to a patient ---------------------------------------------------------


@bp.route("/patient-session", methods=["GET", "POST"])
@allow("front-desk")
def patient_session() -> ResponseReturnValue:
    """Log this browser out of the staff pages, then open the tablet flow for the patient."""
    form = StartSessionForm()
    forms = tablet_forms()
    form.form_id.choices = [d.id for d in forms]
    if form.validate_on_submit():
        archive = get_archive()
        with archive.transaction() as db:
            audit.record(db, "patient session started", actor(), form.form_id.data)
            logins.logout(db, session.get(TOKEN), actor(), archive.clock())
        session.clear()
        return redirect(url_for("tablet.welcome", form_id=form.form_id.data))
    return render_template(
        "staff/patient_session.html",
        form=form,
        forms=forms,
        page_title="Start a patient session",
        section="patient",
    ), 422 if form.errors else 200


# --- staff accounts (admins) -----------------------------------------------------------------


def staff_or_404(staff_id: str) -> Staff:
    with get_archive().sessions() as db:
        staff = service.staff_member(db, staff_id)
    if staff is None:
        abort(404)
    return staff


@bp.get("/accounts")
@allow("admin")
def accounts() -> ResponseReturnValue:
    return render_template(
        "staff/accounts.html",
        staff=service.all_staff(get_archive()),
        page_title="Staff accounts",
        section="accounts",
    )


@bp.route("/accounts/new", methods=["GET", "POST"])
@allow("admin")
def new_account() -> ResponseReturnValue:
    form = NewStaffForm()
    if form.validate_on_submit():
        try:
            with get_archive().transaction() as db:
                staff = create_staff(
                    db,
                    email=form.email.data or "",
                    name=form.name.data or "",
                    role=form.role.data,
                    password=form.password.data or "",
                    actor=actor(),
                )
        except StaffError as error:
            show_error(form, error)
        else:
            flash("The account is ready: they can log in with the initial password.")
            return redirect(url_for(".account", staff_id=staff.id))
    return render_template(
        "staff/new_account.html", form=form, page_title="Add a staff member", section="accounts"
    ), 422 if form.errors else 200


def show_account(staff: Staff, **forms: FlaskForm) -> ResponseReturnValue:
    role_form = forms.get("role_form") or RoleForm(data={"role": staff.role})
    password_form = forms.get("password_form") or PasswordForm()
    active_form = forms.get("active_form") or ActiveForm(
        data={"state": "off" if staff.active else "on"}
    )
    failed = any(form.errors for form in forms.values())
    return render_template(
        "staff/account.html",
        staff=staff,
        role_form=role_form,
        password_form=password_form,
        active_form=active_form,
        page_title="Staff account",
        section="accounts",
    ), 422 if failed else 200


@bp.get("/accounts/<staff_id>")
@allow("admin")
def account(staff_id: str) -> ResponseReturnValue:
    return show_account(staff_or_404(staff_id))


def change_account(
    staff_id: str, form: FlaskForm, form_name: str, **change: object
) -> ResponseReturnValue:
    """Apply one change to an account; errors go back to the field that caused them."""
    staff = staff_or_404(staff_id)
    own = staff.id == me().id
    if form.validate_on_submit():
        if own and ("role" in change or "active" in change):
            # An admin cannot lock themselves out; another admin must do it.
            form.form_errors.append(
                "You cannot change the role of your own account or switch "
                "it off. Ask another admin."
            )
            return show_account(staff, **{form_name: form})
        try:
            with get_archive().transaction() as db:
                row = service.staff_member(db, staff_id)
                assert row is not None
                change_staff(db, row, actor(), **change)  # type: ignore[arg-type]
        except StaffError as error:
            show_error(form, error)
        else:
            if own:
                # A new password ends every login of the account, this one too.
                session.clear()
                flash("Your password was changed. Log in with the new one.")
                return redirect(url_for(".login"))
            flash("Saved. The account's open logins have ended.")
            return redirect(url_for(".account", staff_id=staff_id))
    return show_account(staff, **{form_name: form})


@bp.post("/accounts/<staff_id>/role")
@allow("admin")
def change_role(staff_id: str) -> ResponseReturnValue:
    form = RoleForm()
    return change_account(staff_id, form, "role_form", role=form.role.data)


@bp.post("/accounts/<staff_id>/password")
@allow("admin")
def change_password(staff_id: str) -> ResponseReturnValue:
    form = PasswordForm()
    return change_account(staff_id, form, "password_form", password=form.password.data or "")


@bp.post("/accounts/<staff_id>/active")
@allow("admin")
def switch_account(staff_id: str) -> ResponseReturnValue:
    form = ActiveForm()
    return change_account(staff_id, form, "active_form", active=form.state.data == "on")


# --- retention (admins) ----------------------------------------------------------------------


@bp.get("/retention")
@allow("admin")
def retention() -> ResponseReturnValue:
    archive = get_archive()
    due = archive.due(limit=RETENTION_PAGE + 1)
    return render_template(
        "staff/retention.html",
        due=[(consent, archive.retained_until(consent)) for consent in due[:RETENTION_PAGE]],
        more=len(due) > RETENTION_PAGE,
        retention_years=archive.settings.retention_years,
        page_title="Retention",
        section="retention",
    )


@bp.route("/retention/<consent_id>", methods=["GET", "POST"])
@allow("admin")
def delete_consent(consent_id: str) -> ResponseReturnValue:
    """Ask first, then delete a consent past retention (its id and audit trail stay)."""
    archive = get_archive()
    consent = consent_or_404(consent_id)
    form = ConfirmForm()
    refused = None
    if form.validate_on_submit():
        try:
            archive.delete(consent_id, actor())
        except ConsentMissing:
            abort(404)
        except ArchiveError as error:
            refused = str(error)
        else:
            flash(
                "The consent was deleted: its answers, signature and PDF are gone; its id and "
                "audit trail are kept."
            )
            return redirect(url_for(".retention"))
    return render_template(
        "staff/delete.html",
        consent=consent,
        form=form,
        refused=refused,
        retained_until=archive.retained_until(consent),
        page_title="Delete a consent",
        section="retention",
    ), 409 if refused else 200


# --- the audit trail (admins) ----------------------------------------------------------------


@bp.get("/audit")
@allow("admin")
def audit_log() -> ResponseReturnValue:
    before = request.args.get("before", type=int)
    return render_template(
        "staff/audit.html",
        page=service.audit_page(get_archive(), before),
        before=before,
        page_title="Audit trail",
        section="audit",
    )
