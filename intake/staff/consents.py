"""The consents: the list and its search, a consent's page, its PDF (inline or downloaded), and
a clinician's review.

No patient data goes into a URL: the search form posts, and its criteria are kept on the server
with the login (`StaffSession.search`).
"""

from __future__ import annotations

from dataclasses import replace
from io import BytesIO

from flask import abort, flash, g, redirect, render_template, request, send_file, session, url_for
from flask.typing import ResponseReturnValue

from intake.archive import patient_match, translation_reviews
from intake.archive.errors import ArchiveError, ConsentMissing
from intake.archive.models import Consent
from intake.archive.search import SearchCriteria
from intake.archive.web import get_archive
from intake.definition import ConsentDefinition
from intake.i18n import gettext, say_error
from intake.languages import N_
from intake.staff import service
from intake.staff.auth import TOKEN, allow, may
from intake.staff.forms import ReviewForm, SearchForm
from intake.staff.pages import accounts, actor, bp, catalog, consent_or_404, me
from intake.tablet.devices import tablets

FORMER_ACCOUNT = N_("an account since removed")


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
        page_title=gettext("Consents"),
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
        accounts().remember_search(session[TOKEN], None)
        return redirect(url_for(".consents"))
    if not form.validate_on_submit():
        return show_consents(form, None)
    accounts().remember_search(session[TOKEN], form.criteria())
    return redirect(url_for(".consents"))


def voided_by_name(consent: Consent) -> str | None:
    """Who voided the consent, for its page (None: not void, or voided on the command line)."""
    if consent.voided_by is None:
        return None
    staff = accounts().get(consent.voided_by)
    return staff.name if staff else gettext(FORMER_ACCOUNT)


def signed_text_reviewed(text: ConsentDefinition | None) -> bool:
    """Whether the translation a consent was signed in needs no "not yet reviewed" mark."""
    if text is None:
        return True
    return translation_reviews.is_reviewed(text, translation_reviews.reviews(get_archive()))


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
        tablet=tablets().get(consent.device_id),
        voided_by_name=voided_by_name(consent),
        possible_matches=patient_match.matches_of(archive, consent.patient_id),
        signed_text_reviewed=signed_text_reviewed(record.signed_text),
        page_title=gettext("Consent"),
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
            form.note.errors = [*form.note.errors, say_error(error)]
        else:
            flash(gettext("Your review is kept with the consent. The signed PDF is unchanged."))
            return redirect(url_for(".consent", consent_id=consent_id))
    return show_consent(consent, form)
