"""The audit trail (admins): whether its hash chain holds, and its rows, newest first."""

from __future__ import annotations

from flask import render_template, request
from flask.typing import ResponseReturnValue

from intake.archive.web import get_archive
from intake.staff import service
from intake.staff.auth import allow
from intake.staff.pages import bp


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
