"""Languages: message catalogs (gettext through Flask-Babel) and the language a page speaks.

Every user-facing word in a template or in Python goes through these catalogs: `_()` in a
template, `gettext` / `lazy_gettext` (for words defined at import time, such as form labels)
in Python. The `.po` sources live in `intake/translations/<lang>/LC_MESSAGES/messages.po`.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app, has_request_context, session
from flask_babel import Babel, gettext, lazy_gettext, ngettext, pgettext

__all__ = ["LANGUAGES", "gettext", "init_app", "lazy_gettext", "ngettext", "pgettext", "locale"]

#: The languages a patient may pick, the clinic's own first.
LANGUAGES = ("en",)
TRANSLATIONS = Path(__file__).parent / "translations"


def locale() -> str:
    """The language of the page being made: the patient's pick (kept in the session) on the
    tablet, else the clinic's language."""
    if has_request_context():
        picked = session.get("lang")
        if picked in LANGUAGES:
            return picked
    return current_app.config.get("CLINIC_LANGUAGE") or LANGUAGES[0]


def init_app(app: Flask) -> None:
    Babel(app, locale_selector=locale, default_translation_directories=str(TRANSLATIONS))
