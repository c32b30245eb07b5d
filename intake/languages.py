"""The languages the project speaks, and their message catalogs without Flask.

The web pages reach the catalogs through Flask-Babel (`intake.i18n`); the PDF and anything
else outside a request use `translations()` here, which reads the same compiled catalogs
(`intake/translations/<lang>/LC_MESSAGES/messages.mo`) with `babel.support.Translations`.
Dates are written the way each language writes them (`date_in_words`), the same helper on the
tablet's pages and in the PDF.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import cache, partial
from pathlib import Path

from babel import Locale
from babel.dates import format_date, format_datetime, format_time, format_timedelta
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
    """A language's name in another language, as a label or a list item shows it ("Spanish"
    for staff reading English, "Español" for staff reading Spanish)."""
    name = language_in_sentence(language, shown_in)
    return name[:1].upper() + name[1:]


def language_in_sentence(language: str, shown_in: str) -> str:
    """A language's name as a sentence of `shown_in` writes it: English capitalises it ("read
    in Spanish"), Spanish does not ("leído en español"), which is how Babel's names come."""
    return Locale.parse(language).get_display_name(shown_in) or language


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


def day_shown(value: date, language: str) -> str:
    """A day as a page of `language` writes it in a sentence or a column ("Nov 28, 2027",
    "28 nov 2027")."""
    return format_date(value, format="medium", locale=language)


def moment_shown(moment: datetime, language: str) -> str:
    """A moment as a page of `language` writes it, in its own UTC offset ("Jan 5, 2026,
    10:30 AM (UTC-05:00)", "5 ene 2026, 10:30 (UTC-05:00)"): English on a 12-hour clock, the
    other languages as CLDR writes them, on a 24-hour one."""
    offset = moment.strftime("%z")
    zone = f"UTC{offset[:3]}:{offset[3:]}" if offset not in ("", "+0000") else "UTC"
    if language == DEFAULT_LANGUAGE:
        return f"{moment.strftime('%b %-d, %Y, %-I:%M %p')} ({zone})"
    return f"{format_datetime(moment, 'd MMM y, HH:mm', locale=language)} ({zone})"


def spoken_value(value: object, language: str, *, on_a_page: bool = True) -> object:
    """A message's value as `language` writes it: a length of time in its words ("15 seconds",
    "15 segundos"), a `Said` in that language, a moment or a day as a page writes it
    (`moment_shown`, `day_shown`), or as ISO on the command line (`on_a_page=False`), where
    they are read side by side and pasted; anything else as it is."""
    if isinstance(value, Said):
        return value.in_language(language) if on_a_page else str(value)
    if isinstance(value, timedelta):
        return format_timedelta(value, threshold=1, locale=language)
    if isinstance(value, datetime):
        return moment_shown(value, language) if on_a_page else value.isoformat()
    if isinstance(value, date):
        return day_shown(value, language) if on_a_page else value.isoformat()
    return value


class Said(str):
    """A message for a person, built where no page's language is known (the archive, the seal
    check): the English text itself, as the command line prints it, which also keeps its
    msgid and values so that a page can say it in its own language (`in_language`).

    `Said(N_("must be at least %(min)s characters"), min=12)`; `said_n` for a count's plural.
    """

    msgid: str
    plural: str | None
    values: dict[str, object]

    def __new__(cls, msgid: str, plural: str | None = None, /, **values: object) -> Said:
        self = super().__new__(cls, _filled(msgid, plural, values, DEFAULT_LANGUAGE, None))
        self.msgid, self.plural, self.values = msgid, plural, values
        return self

    def __reduce__(self) -> tuple[object, ...]:
        # Seal checks run in worker processes: their problems come back whole.
        return (_said, (self.msgid, self.plural, self.values))

    def in_language(self, language: str) -> str:
        return _filled(self.msgid, self.plural, self.values, language, translations(language))

    def stored(self) -> str:
        """The message as a database column keeps it: its msgid, plural and values as JSON (a
        value that is itself a `Said` kept the same way), read back by `said_stored`. Raises
        `TypeError` for a value JSON cannot hold (a length of time, a moment, a day)."""
        return json.dumps(self._parts(), ensure_ascii=False, separators=(",", ":"))

    def _parts(self) -> dict[str, object]:
        parts: dict[str, object] = {STORED_KEY: self.msgid}
        if self.plural is not None:
            parts["plural"] = self.plural
        if self.values:
            parts["values"] = {
                name: value._parts() if isinstance(value, Said) else value
                for name, value in self.values.items()
            }
        return parts


#: The key a stored `Said` opens with, which no plain English message starts like.
STORED_KEY = "said"
_STORED_START = '{"' + STORED_KEY + '":'


def said_stored(text: str) -> str:
    """A message `Said.stored` kept, a `Said` again; any other text (a message kept as plain
    English, an exception's class name) comes back as it is, as does a stored message whose
    msgid no longer takes its values."""
    if not text.startswith(_STORED_START):
        return text
    try:
        return _from_parts(json.loads(text))
    except (ValueError, KeyError, TypeError, AttributeError):
        return text


def _from_parts(parts: dict[str, object]) -> Said:
    values = {
        name: _from_parts(value) if isinstance(value, dict) else value
        for name, value in dict(parts.get("values") or {}).items()  # type: ignore[call-overload]
    }
    msgid = str(parts[STORED_KEY])
    msgid % values  # a placeholder without its value raises KeyError: the text is shown as kept
    return Said(msgid, parts.get("plural"), **values)  # type: ignore[arg-type]


def _said(msgid: str, plural: str | None, values: dict[str, object]) -> Said:
    return Said(msgid, plural, **values)


def said_n(singular: str, plural: str, num: int, **values: object) -> Said:
    """A `Said` whose words follow the count `num` ("1 byte", "2 bytes")."""
    return Said(singular, plural, num=num, **values)


def _filled(
    msgid: str,
    plural: str | None,
    values: dict[str, object],
    language: str,
    catalog: NullTranslations | None,
) -> str:
    if plural is None:
        text = catalog.gettext(msgid) if catalog else msgid
    elif catalog:
        text = catalog.ngettext(msgid, plural, int(values["num"]))  # type: ignore[call-overload]
    else:
        text = msgid if values["num"] == 1 else plural
    if not values:
        return text
    # No catalog: the English text itself, as the command line prints it.
    on_a_page = catalog is not None
    return text % {
        name: spoken_value(value, language, on_a_page=on_a_page) for name, value in values.items()
    }


def say_in(language: str, message: str) -> str:
    """`message` in `language`: a `Said` with its values, else a msgid from the catalog (a text
    the catalog does not hold comes back as it is)."""
    if isinstance(message, Said):
        return message.in_language(language)
    return translations(language).gettext(message) if message else message
