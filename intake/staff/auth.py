"""Who is asking, on every staff request: the login behind the cookie's token, and its role.

The Flask session cookie holds only the random token `login()` made (`session["staff_token"]`);
names, emails and roles stay on the server. Every staff view is marked with the least role that
may open it (`@allow("clinician")`, or `@allow(None)` for the login page); a view without a mark
is refused to everyone, so a new route cannot be left open by mistake.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import abort, current_app, flash, g, redirect, request, session, url_for
from flask.typing import ResponseReturnValue

from intake.archive.accounts import Accounts
from intake.archive.models import Staff
from intake.archive.staff import role_allows
from intake.archive.web import get_archive, request_actor

IDLE_MESSAGE = "You were logged off after 15 minutes without activity."
TOKEN = "staff_token"
#: A view's mark when it has none: nobody may open it.
_UNMARKED = object()

View = TypeVar("View", bound=Callable[..., ResponseReturnValue])


def allow(role: str | None) -> Callable[[View], View]:
    """Open a view to `role` and the roles above it; `None` opens it to anyone."""

    def mark(view: View) -> View:
        view.staff_role = role  # type: ignore[attr-defined]
        return view

    return mark


def current_staff() -> Staff | None:
    return g.get("staff")


def load_staff() -> None:
    """Before every staff request: the login behind the cookie (ended after 15 idle minutes),
    kept on `g` for the views and the pages."""
    token = session.get(TOKEN)
    check = Accounts(get_archive()).check_session(token, request_actor())
    g.staff = check.staff
    g.search = check.session.search if check.session is not None else None
    if token and check.staff is None:
        session.pop(TOKEN, None)
        if check.idled_out:
            flash(IDLE_MESSAGE)


def require_role() -> ResponseReturnValue | None:
    """Before every staff view, once the login is known: the role the view is marked with. A
    redirect to the login page, a 403, or None to go on."""
    needed = getattr(current_app.view_functions.get(request.endpoint), "staff_role", _UNMARKED)
    if needed is None:
        return None
    staff = current_staff()
    if staff is None:
        return redirect(url_for("staff.login"))
    if needed is _UNMARKED or not role_allows(staff.role, needed):
        abort(403)
    return None


def may(needed: str) -> bool:
    """Whether the staff member asking has `needed` (or a role above it): for templates."""
    staff = current_staff()
    return staff is not None and role_allows(staff.role, needed)
