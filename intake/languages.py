"""The languages the project speaks, and their message catalogs without Flask.

The web pages reach the catalogs through Flask-Babel (`intake.i18n`); the PDF and anything
else outside a request use `translations()` here, which reads the same compiled catalogs
(`intake/translations/<lang>/LC_MESSAGES/messages.mo`) with `babel.support.Translations`.
Dates are written the way each language writes them (`date_in_words`), the same helper on the
tablet's pages and in the PDF.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from functools import cache, partial
from pathlib import Path

from babel import Locale
from babel.dates import format_date, format_time
from babel.support import NullTranslations, Translations

#: The languages a patient may pick, the clinic's own first.
LANGUAGES = ("en", "es")
#: The language of everything no patient picked: staff pages, the CLI, a form's own file.
DEFAULT_LANGUAGE = LANGUAGES[0]
#: Each language's tag for a document's `/Lang` and a page's `lang`: the clinic is in the US.
DOCUMENT_LANGUAGE = {"en": "en-US", "es": "es-US"}
TRANSLATIONS = Path(__file__).parent / "translations"
DOMAIN = "messages"


def N_(message: str) -> str:
    """Mark `message` for the catalogs without translating it (it is translated where shown)."""
    return message


@cache
def translations(language: str) -> NullTranslations:
    """The compiled catalog of `language`; English reads the msgids themselves."""
    if language not in LANGUAGES:
        raise ValueError(f"not a language of this project: {language!r}")
    return Translations.load(str(TRANSLATIONS), [language], DOMAIN)


def gettext_for(language: str, message: str, **values: object) -> str:
    """`message` in `language`, with `%(name)s` placeholders filled from `values`."""
    text = translations(language).gettext(message)
    return text % values if values else text


#: A language's catalog as a function: `_("Signed at")`, `_("Page %(n)s", n=2)`.
Words = Callable[..., str]


def words(language: str) -> Words:
    """The catalog of `language` as `gettext_for` with the language given (`_` where used)."""
    return partial(gettext_for, language)


def language_name(language: str) -> str:
    """A language's name in itself ("English", "Español"), as a patient looks for it."""
    name = Locale.parse(language).get_display_name(language) or language
    return name[:1].upper() + name[1:]


def language_name_in(language: str, shown_in: str) -> str:
    """A language's name in another language ("Spanish" for staff reading English)."""
    name = Locale.parse(language).get_display_name(shown_in) or language
    return name[:1].upper() + name[1:]


def date_in_words(value: date | str | None, language: str) -> str:
    """A date in words ("April 12, 1985", "12 de abril de 1985"); an ISO date string is read
    first, and a value that is not a date comes back as it was."""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            return value
    if not isinstance(value, date):
        return "" if value is None else str(value)
    return format_date(value, format="long", locale=language)


def date_of_birth_shown(value: date | str | None, language: str) -> str:
    """A date of birth in words with the date as typed beside it ("April 12, 1985
    (1985-04-12)"), so the words and the typed value can be checked against each other."""
    words = date_in_words(value, language)
    iso = value.isoformat() if isinstance(value, date) else (value or "")
    return f"{words} ({iso})" if iso and words != iso else words


def datetime_in_words(value: datetime, language: str) -> str:
    """A moment with its date in words and its time and UTC offset as the language writes
    them ("April 12, 2026, 10:15:00 UTC-05:00", "12 de abril de 2026, 10:15:00 UTC-05:00")."""
    time = format_time(value, "HH:mm:ss", locale=language)
    offset = format_time(value, "ZZZZZ", locale=language)
    return gettext_for(
        language,
        "%(date)s, %(time)s UTC%(offset)s",
        date=date_in_words(value.date(), language),
        time=time,
        offset=offset,
    )
