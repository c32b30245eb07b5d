"""Retention (admins): the consents past their retention period, and deleting one."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from intake.archive.errors import ArchiveError, ConsentMissing
from intake.archive.web import get_archive
from intake.i18n import gettext, say_error
from intake.staff.auth import allow, recent_login
from intake.staff.forms import ConfirmForm
from intake.staff.pages import actor, bp, consent_or_404

#: How many consents are past retention that the retention page lists at once (oldest first).
RETENTION_PAGE = 100


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
        page_title=gettext("Retention"),
        section="retention",
    )


@bp.route("/retention/<consent_id>", methods=["GET", "POST"])
@allow("admin")
@recent_login()
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
            refused = say_error(error)
        else:
            flash(
                gettext(
                    "The consent was deleted: its answers, signature and PDF are gone; its id "
                    "and audit trail are kept."
                )
            )
            return redirect(url_for(".retention"))
    return render_template(
        "staff/delete.html",
        consent=consent,
        form=form,
        refused=refused,
        retained_until=archive.retained_until(consent),
        page_title=gettext("Delete a consent"),
        section="retention",
    ), 409 if refused else 200
