"""The audit trail (admins): whether its hash chain holds, and its rows, newest first."""

from __future__ import annotations

from flask import render_template, request
from flask.typing import ResponseReturnValue

from intake.archive.web import get_archive
from intake.i18n import gettext
from intake.staff import service
from intake.staff.auth import allow
from intake.staff.pages import bp

#: The largest sequence number the audit table holds (an INTEGER column); a `before` bound
#: beyond it names no row of the database and would make PostgreSQL refuse the query.
SEQ_MAX = 2**31 - 1


@bp.get("/audit")
@allow("admin")
def audit_log() -> ResponseReturnValue:
    before = request.args.get("before", type=int)
    if before is not None and not 0 < before <= SEQ_MAX:
        before = None  # beyond what the database holds: the newest page
    return render_template(
        "staff/audit.html",
        page=service.audit_page(get_archive(), before),
        before=before,
        page_title=gettext("Audit trail"),
        section="audit",
    )
