"""The clinic's tablets (admins): the list, a one-time enrolment code with its QR code, and
revoking a tablet, which ends its access at its next request."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from intake.i18n import gettext
from intake.languages import N_
from intake.qr import qr_data_uri
from intake.staff.auth import allow
from intake.staff.forms import ConfirmForm
from intake.staff.pages import accounts, actor, bp
from intake.tablet.devices import tablets

REVOKED = N_("“%(name)s” is revoked: it cannot open a form from its next tap on.")


@bp.get("/tablets")
@allow("admin")
def tablets_list() -> ResponseReturnValue:
    staff_names = {member.id: member.name for member in accounts().all()}
    return render_template(
        "staff/tablets.html",
        tablets=tablets().all(),
        staff_names=staff_names,
        form=ConfirmForm(),
        page_title=gettext("Tablets"),
        section="tablets",
    )


@bp.post("/tablets/code")
@allow("admin")
def tablet_code() -> ResponseReturnValue:
    """A new one-time code, shown on this page only (never in a URL the staff page keeps)."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    issued = tablets().issue_code(actor())
    url = url_for("tablet.enrol", code=issued.code, _external=True)
    return render_template(
        "staff/tablet_code.html",
        code=issued,
        enrol_url=url_for("tablet.enrol", _external=True),
        qr=qr_data_uri(url),
        page_title=gettext("Enrol a tablet"),
        section="tablets",
    )


@bp.post("/tablets/<tablet_id>/revoke")
@allow("admin")
def revoke_tablet(tablet_id: str) -> ResponseReturnValue:
    tablet = tablets().get(tablet_id)
    if tablet is None:
        abort(404)
    if ConfirmForm().validate_on_submit() and tablets().revoke(tablet.id, actor()):
        flash(gettext(REVOKED, name=tablet.name))
    return redirect(url_for(".tablets_list"))
