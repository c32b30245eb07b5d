"""Voiding a consent (admins): one taken by mistake or forged is kept, marked void with the
reason, and audited; its answers and sealed PDF stay exactly as they were."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from intake.archive.errors import ArchiveError, ConsentMissing
from intake.archive.web import get_archive
from intake.i18n import gettext, say_error
from intake.languages import N_
from intake.staff.auth import allow
from intake.staff.forms import VoidForm
from intake.staff.pages import actor, bp, consent_or_404

VOIDED = N_("The consent is marked VOID. It is kept, with its sealed PDF unchanged.")


@bp.route("/consents/<consent_id>/void", methods=["GET", "POST"])
@allow("admin")
def void_consent(consent_id: str) -> ResponseReturnValue:
    consent = consent_or_404(consent_id)
    form = VoidForm()
    if consent.voided_at is None and form.validate_on_submit():
        try:
            get_archive().void(consent_id, form.reason.data or "", actor())
        except ConsentMissing:
            abort(404)
        except ArchiveError as error:
            form.reason.errors = [*form.reason.errors, say_error(error)]
        else:
            flash(gettext(VOIDED))
            return redirect(url_for(".consent", consent_id=consent_id))
    return render_template(
        "staff/void.html",
        consent=consent,
        form=form,
        page_title=gettext("Void a consent"),
        section="consents",
    ), 422 if form.errors else 200
