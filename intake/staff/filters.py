"""How the staff pages print times, days, forms and the reasons a PDF waits: Jinja filters,
registered once on the app (`init_app`) and used as `{{ consent.signed_at | local_time }}`."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import Flask, current_app, has_app_context

from intake.archive.errors import DATABASE, FOLDER, STORAGE_PHRASES, is_storage_reason
from intake.definition import FormCatalog
from intake.i18n import gettext, locale, say
from intake.languages import DEFAULT_LANGUAGE, N_, Said, day_shown, moment_shown


def _catalog() -> FormCatalog:
    return current_app.extensions["forms"]


def _clinic_zone() -> ZoneInfo | None:
    name = current_app.config["CLINIC_TIMEZONE"]
    return ZoneInfo(name) if name else None


def _language() -> str:
    """The page's language; English outside an app (as the clinic's default)."""
    return locale() if has_app_context() else DEFAULT_LANGUAGE


def local_time(moment: datetime | str | None) -> str:
    """A stored time (UTC) or a signing time (ISO 8601) as the clinic reads it."""
    if not moment:
        return ""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    else:
        moment = moment.astimezone(_clinic_zone())
    return moment_shown(moment, _language())


def day(value: date | str | None) -> str:
    """A day as the page's language writes it ("Nov 28, 2027", "28 nov 2027"); an ISO day (as
    a validity or a refusal keeps its detail) is read first."""
    if not value:
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value)
    return day_shown(value, _language())


def why_waiting(reason: str | None) -> str:
    """Why a consent's PDF is not made yet, for staff: the archive's own words (a `Said` as its
    row gives it back, a msgid, or English kept as it was written), or the class of an
    unexpected failure (its message is never kept: it might quote the patient's answers)."""
    if not reason:
        return ""
    if is_storage_reason(reason):
        return storage_words(reason)
    if isinstance(reason, Said) or " " in reason:
        return say(reason)
    return gettext("the app failed while making it (%(error)s)", error=reason)


def storage_words(reason: str) -> str:
    """A storage failure's reason ("the archive folder is full", as the archive keeps it on the
    consent) in the page's language: its place and its phrase are each in the catalog."""
    place = FOLDER if reason.startswith(FOLDER) else DATABASE
    what = reason[len(place) :].strip()
    if what in STORAGE_PHRASES:
        what = gettext(what)
    elif written := re.fullmatch(r"cannot be written \((\w+)\)", what):
        what = gettext("cannot be written (%(code)s)", code=written[1])
    return gettext("%(place)s %(what)s", place=gettext(place), what=what)


def as_sentence(text: str) -> str:
    """`text` with its first letter upper case (Jinja's `capitalize` lowers all the others)."""
    return text[:1].upper() + text[1:]


def form_title(form_id: str) -> str:
    """A form's title, or its id once the catalog no longer has it."""
    try:
        return _catalog().get(form_id).title
    except KeyError:
        return form_id


def treatment(form_id: str) -> str:
    """What a form is for, short enough for a column of the list."""
    try:
        return _catalog().get(form_id).treatment
    except KeyError:
        return form_id


#: Each role's name as staff read it (the catalog's; in English, the role itself).
ROLE_NAMES = {"front-desk": N_("front-desk"), "clinician": N_("clinician"), "admin": N_("admin")}


def role_name(role: str) -> str:
    return gettext(ROLE_NAMES[role]) if role in ROLE_NAMES else role


FILTERS: tuple[Callable[..., str], ...] = (
    role_name,
    local_time,
    day,
    why_waiting,
    as_sentence,
    form_title,
    treatment,
)


def init_app(app: Flask) -> None:
    for show in FILTERS:
        app.add_template_filter(show)
