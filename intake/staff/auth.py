"""Who is asking, on every staff request: the login behind the cookie's token, and its role.

The Flask session cookie holds only the random token `login()` made (`session["staff_token"]`);
names, emails and roles stay on the server. Every staff view is marked with the least role that
may open it (`@allow("clinician")`, or `@allow(None)` for the login page); a view without a mark
is refused to everyone, so a new route cannot be left open by mistake. Admin pages also need the
admin's second factor, and views that change accounts or delete consents a recent proof of who
holds the login (`@recent_login`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from flask import Flask, abort, current_app, flash, g, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import refresh

from intake.archive.accounts import Accounts
from intake.archive.models import Staff
from intake.archive.staff import LoginPolicy, SessionCheck, role_allows
from intake.archive.web import get_archive, request_actor
from intake.i18n import gettext
from intake.languages import N_

IDLE_MESSAGE = N_("You were logged off after 15 minutes without activity.")
EXPIRED_MESSAGE = N_("You were logged off: a login lasts %(hours)s hours at most. Log in again.")
SECOND_FACTOR_NEEDED = N_("Admin pages need a second factor. Set up your authenticator app first.")
CONFIRM_FIRST = N_("Confirm it is you before changing accounts or deleting consents.")
TOKEN = "staff_token"
#: A view's mark when it has none: nobody may open it.
_UNMARKED = object()

View = TypeVar("View", bound=Callable[..., ResponseReturnValue])


def init_app(app: Flask) -> None:
    app.extensions["login_policy"] = LoginPolicy(
        max_age=timedelta(hours=float(app.config["STAFF_LOGIN_HOURS"])),
        reauth_after=timedelta(minutes=float(app.config["STAFF_REAUTH_MINUTES"])),
    )
    app.before_request(end_login_on_the_tablet)


def accounts() -> Accounts:
    return Accounts(get_archive(), current_app.extensions["login_policy"])


def allow(role: str | None) -> Callable[[View], View]:
    """Open a view to `role` and the roles above it; `None` opens it to anyone."""

    def mark(view: View) -> View:
        view.staff_role = role  # type: ignore[attr-defined]
        return view

    return mark


def current_staff() -> Staff | None:
    return g.get("staff")


def login_check() -> SessionCheck:
    return g.get("login") or SessionCheck(None)


def load_staff() -> None:
    """Before every staff request: the login behind the cookie (ended after 15 idle minutes, or
    past its lifetime), kept on `g` for the views and the pages."""
    token = session.get(TOKEN)
    check = accounts().check_session(token, request_actor())
    g.login = check
    g.staff = check.staff
    # The page speaks the account's language from here on (see `intake.i18n.locale`).
    refresh()
    g.search = check.session.search if check.session is not None else None
    if token and check.staff is None and not check.code_due:
        session.pop(TOKEN, None)
        if check.idled_out:
            flash(gettext(IDLE_MESSAGE))
        if check.expired:
            hours = format(float(current_app.config["STAFF_LOGIN_HOURS"]), "g")
            flash(gettext(EXPIRED_MESSAGE, hours=hours))


def require_role() -> ResponseReturnValue | None:
    """Before every staff view, once the login is known: the role the view is marked with. A
    redirect to the login page, a 403, or None to go on. An admin without a second factor is
    sent to set one up before any admin page."""
    needed = getattr(current_app.view_functions.get(request.endpoint), "staff_role", _UNMARKED)
    if needed is None:
        return None
    staff = current_staff()
    if staff is None:
        return redirect(url_for("staff.login"))
    if needed is _UNMARKED or not role_allows(staff.role, needed):
        abort(403)
    if needed == "admin" and not login_check().has_second_factor:
        flash(gettext(SECOND_FACTOR_NEEDED))
        return redirect(url_for("staff.second_factor"))
    return None


def recent_login(return_to: str | None = None) -> Callable[[View], View]:
    """A view that changes accounts or deletes consents: the login must have proved who holds
    it within the last few minutes, else it is asked again first (ASVS 3.7.1). After that the
    browser comes back to `return_to` (an endpoint taking the same arguments; the view's own
    by default), since a refused post cannot be replayed."""

    def wrap(view: View) -> View:
        @functools.wraps(view)
        def checked(**kwargs: Any) -> ResponseReturnValue:
            if login_check().recent:
                return view(**kwargs)
            flash(gettext(CONFIRM_FIRST))
            back = url_for(return_to or request.endpoint, **kwargs)
            return redirect(url_for("staff.reauthenticate", next=back))

        return checked  # type: ignore[return-value]

    return wrap


def safe_next(target: str | None) -> str:
    """Where to go after confirming: a staff page of this app, never another site."""
    if target and target.startswith("/staff/") and "//" not in target and "\\" not in target:
        return target
    return url_for("staff.consents")


def end_login_on_the_tablet() -> None:
    """Any tablet page opened in a browser with a staff login ends that login first: the tablet
    is the patient's, and a staff member's login must not wait behind it for the next one."""
    if request.blueprint != "tablet" or not session.get(TOKEN):
        return
    accounts().logout(session.pop(TOKEN), request_actor())


def may(needed: str) -> bool:
    """Whether the staff member asking has `needed` (or a role above it): for templates."""
    staff = current_staff()
    return staff is not None and role_allows(staff.role, needed)
