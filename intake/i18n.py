"""Languages: message catalogs (gettext through Flask-Babel) and the language a page speaks.

Every user-facing word in a template or in Python goes through these catalogs: `_()` in a
template, `gettext` / `lazy_gettext` (for words defined at import time, such as form labels)
in Python. The `.po` sources live in `intake/translations/<lang>/LC_MESSAGES/messages.po`
(`make catalogs` extracts, updates and compiles them); `intake.languages` reads the same
catalogs where there is no Flask (the PDF).

The tablet speaks the language the patient picked (`session["lang"]`); the staff pages the
language kept on the staff member's account (`Staff.language`, picked in the staff header);
every other page, and a staff page before login, the clinic's (`CLINIC_LANGUAGE`, English
unless set).
"""

from __future__ import annotations

from babel.support import NullTranslations
from flask import Flask, current_app, g, has_app_context, has_request_context, request, session
from flask_babel import Babel, get_locale, get_translations
from flask_babel.speaklater import LazyString
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from intake.languages import (
    DEFAULT_LANGUAGE,
    DOCUMENT_LANGUAGE,
    LANGUAGES,
    TRANSLATIONS,
    date_in_words,
    date_of_birth_shown,
    language_name,
    say_in,
)

__all__ = [
    "LANGUAGES",
    "gettext",
    "init_app",
    "lazy_gettext",
    "locale",
    "ngettext",
    "pgettext",
    "say",
    "say_error",
]

#: The blueprints whose pages a patient reads, in the language they picked.
PATIENT_PAGES = ("tablet", "copy")
#: The blueprint whose pages a logged-in staff member reads, in the language of their account.
STAFF_PAGES = ("staff",)


def clinic_language() -> str:
    """The language of the staff pages and of anything no patient picked."""
    configured = current_app.config.get("CLINIC_LANGUAGE")
    return configured if configured in LANGUAGES else LANGUAGES[0]


def patient_language() -> str:
    """The language the patient picked on the tablet, else the clinic's."""
    picked = session.get("lang") if has_request_context() else None
    return picked if picked in LANGUAGES else clinic_language()


def staff_language() -> str:
    """The language kept on the logged-in staff member's account, else the clinic's."""
    staff = g.get("staff") if has_request_context() else None
    picked = getattr(staff, "language", None)
    return picked if picked in LANGUAGES else clinic_language()


def locale() -> str:
    """The language of the page being made: the patient's pick (kept in the session) on the
    tablet, the staff member's own on the staff pages, else the clinic's language."""
    if has_request_context() and request.blueprint in PATIENT_PAGES:
        return patient_language()
    if has_request_context() and request.blueprint in STAFF_PAGES:
        return staff_language()
    return clinic_language()


def say(message: str) -> str:
    """A message from a layer without Flask (an archive rule, the seal check: a msgid, or a
    `Said` with its values) in the language of the page being made."""
    return say_in(locale() if has_app_context() else DEFAULT_LANGUAGE, message)


def say_error(error: Exception) -> str:
    """An archive error's message (see `say`) in the language of the page being made."""
    message = error.args[0] if len(error.args) == 1 else None
    return say(message if isinstance(message, str) else str(error))


#: Flask-Babel's catalog of each locale, kept once looked up: its own lookup (context, domain,
#: the locale's identifier, the cache) is most of a translated word's cost on a page.
_catalogs: dict[str, NullTranslations] = {}
_NO_CATALOG = NullTranslations()


def page_catalog() -> NullTranslations:
    """The catalog of the page being made: of Flask-Babel's locale for this request (chosen by
    `locale` once a request, and again after `flask_babel.refresh`); none outside the app."""
    current = get_locale()
    if current is None:
        return _NO_CATALOG
    key = str(current)  # as Flask-Babel keys its own cache (a `Locale`'s == is slow)
    catalog = _catalogs.get(key)
    if catalog is None:
        catalog = _catalogs[key] = get_translations()
    return catalog


def gettext(string: str, **variables: object) -> str:
    """`flask_babel.gettext`, through `page_catalog`."""
    s = page_catalog().ugettext(string)
    return s if not variables else s % variables


def ngettext(singular: str, plural: str, num: int, **variables: object) -> str:
    """`flask_babel.ngettext`, through `page_catalog`."""
    variables.setdefault("num", num)
    s = page_catalog().ungettext(singular, plural, num)
    return s if not variables else s % variables


def pgettext(context: str, string: str, **variables: object) -> str:
    """`flask_babel.pgettext`, through `page_catalog`."""
    s = page_catalog().upgettext(context, string)
    return s if not variables else s % variables


def lazy_gettext(string: str, **variables: object) -> LazyString:
    """`flask_babel.lazy_gettext`: words defined at import time, translated when shown."""
    return LazyString(gettext, string, **variables)


@pass_context
def _template_gettext(context: Context, string: str, **variables: object) -> str:
    """A template's `_()`: what Jinja's newstyle gettext does (the catalog's words, markup-safe
    under autoescape, then always formatted with the values, escaped; words without a `%`
    and no values are the same formatted or not)."""
    rv = page_catalog().ugettext(string)
    if context.eval_ctx.autoescape:
        rv = Markup(rv)
    return rv % variables if variables or "%" in rv else rv


@pass_context
def _template_ngettext(
    context: Context, singular: str, plural: str, num: int, **variables: object
) -> str:
    """A template's `ngettext()`, as Jinja's newstyle one (see `_template_gettext`)."""
    variables.setdefault("num", num)
    rv = page_catalog().ungettext(singular, plural, num)
    if context.eval_ctx.autoescape:
        rv = Markup(rv)
    return rv % variables


def init_app(app: Flask) -> None:
    Babel(app, locale_selector=locale, default_translation_directories=str(TRANSLATIONS))
    # The templates' words as Flask-Babel installs them (Jinja's "newstyle" gettext), through
    # `page_catalog`; `_` and `ngettext` called directly rather than through Jinja's alias.
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: page_catalog().ugettext(s),
        ngettext=lambda s, p, n: page_catalog().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: page_catalog().upgettext(c, s),
        npgettext=lambda c, s, p, n: page_catalog().unpgettext(c, s, p, n),
    )
    app.jinja_env.globals.update(_=_template_gettext, gettext=_template_gettext)
    app.jinja_env.globals["ngettext"] = _template_ngettext
    app.jinja_env.filters["date_in_words"] = lambda value: date_in_words(value, locale())
    app.jinja_env.filters["say"] = say
    app.jinja_env.globals["say"] = say
    app.jinja_env.filters["date_of_birth"] = lambda value: date_of_birth_shown(value, locale())

    #: Each language by its own name, as the switch shows it (the same on every page).
    names = [(code, language_name(code)) for code in LANGUAGES]

    @app.context_processor
    def languages() -> dict[str, object]:
        page = locale()
        return {
            "html_lang": DOCUMENT_LANGUAGE.get(page, page),
            "page_language": page,
            "languages": names,
        }
