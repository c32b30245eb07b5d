"""The message catalogs: every msgid of the code and templates is in the .pot and translated in
every language, nothing fuzzy, placeholders kept; each committed .mo says what its .po says;
and no patient-facing template carries words outside `_()`."""

from __future__ import annotations

import re
from io import BytesIO
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from jinja2 import Environment, nodes

from intake.config import PROJECT_ROOT
from intake.languages import DEFAULT_LANGUAGE, LANGUAGES, TRANSLATIONS, gettext_for, translations

#: The keywords `make catalogs` extracts with (beside Babel's own: _, gettext, ngettext, N_ …).
KEYWORDS = {"error": (2,), "lazy_gettext": None, "gettext_for": (2,), "said_n": (1, 2)}
TRANSLATED = [lang for lang in LANGUAGES if lang != DEFAULT_LANGUAGE]


def po_path(language: str) -> Path:
    return TRANSLATIONS / language / "LC_MESSAGES" / "messages.po"


def catalog(language: str):
    with po_path(language).open("rb") as f:
        return read_po(f, locale=language)


def extracted_now() -> set[str]:
    """The msgids the code and templates hold today, as `make catalogs` extracts them."""
    from babel.messages.extract import DEFAULT_KEYWORDS

    with (PROJECT_ROOT / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f)
    keywords = {**DEFAULT_KEYWORDS, **KEYWORDS}
    found = set()
    for _name, _line, message, _comments, _context in extract_from_dir(
        PROJECT_ROOT, method_map, options_map, keywords=keywords
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def test_the_pot_holds_every_msgid_of_the_code_and_templates():
    with (TRANSLATIONS / "messages.pot").open("rb") as f:
        pot = {m.id[0] if isinstance(m.id, tuple) else m.id for m in read_po(f) if m.id}
    now = extracted_now()
    assert now - pot == set(), "run `make catalogs`: new messages not in messages.pot"
    assert pot - now == set(), "run `make catalogs`: messages.pot has messages no code uses"


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_message_is_translated_and_none_is_fuzzy(language):
    po = catalog(language)
    with (TRANSLATIONS / "messages.pot").open("rb") as f:
        pot = {m.id for m in read_po(f) if m.id}
    messages = [m for m in po if m.id]
    assert {m.id for m in messages} == pot, "run `make catalogs` and translate what is new"
    untranslated = [m.id for m in messages if not all(m.string if m.pluralizable else [m.string])]
    fuzzy = [m.id for m in messages if m.fuzzy]
    assert untranslated == [], f"{language}: untranslated"
    assert fuzzy == [], f"{language}: fuzzy"
    assert not po.fuzzy, f"{language}: the catalog's header is marked fuzzy"
    # Babel's own checks: the same %(name)s placeholders in msgid and msgstr, plural forms.
    problems = [(m.id, [str(e) for e in errors]) for m, errors in po.check()]
    assert problems == []


def test_a_fuzzy_or_untranslated_message_is_caught(tmp_path):
    """The check above reads what pybabel writes: a fuzzy and an empty message both show."""
    text = po_path("es").read_text("utf-8")
    text = text.replace('msgstr "Paso %(step)s de %(count)s"', 'msgstr ""', 1)
    text = text.replace('msgid "Continue"\n', '#, fuzzy\nmsgid "Continue"\n', 1)
    po = read_po(BytesIO(text.encode()), locale="es")
    assert not po["Step %(step)s of %(count)s"].string
    assert po["Continue"].fuzzy


@pytest.mark.parametrize("language", TRANSLATED)
def test_each_compiled_catalog_says_what_its_source_says(language):
    """The .mo the app and the wheel read is the .po compiled (`make catalogs` compiles)."""
    po = catalog(language)
    with (po_path(language).with_suffix(".mo")).open("rb") as f:
        mo = read_mo(f)

    def pairs(messages):
        return {
            tuple(m.id) if m.pluralizable else m.id: tuple(m.string) if m.pluralizable else m.string
            for m in messages
            if m.id and not m.fuzzy
        }

    source, compiled = pairs(po), pairs(mo)
    assert compiled == source, "run `make catalogs`: the .mo is older than its .po"


def test_the_plain_helper_reads_the_catalogs():
    assert gettext_for("es", "Step %(step)s of %(count)s", step=2, count=6) == "Paso 2 de 6"
    assert gettext_for("en", "Step %(step)s of %(count)s", step=2, count=6) == "Step 2 of 6"
    assert translations("es").gettext("Yes") == "Sí"
    with pytest.raises(ValueError):
        translations("xx")


#: Patient-facing templates: every word there comes from `_()` or the form's TOML.
PATIENT_TEMPLATES = sorted(
    [
        *(PROJECT_ROOT / "templates" / "tablet").glob("*.html"),
        *(PROJECT_ROOT / "templates" / "consent").glob("*.html"),
        PROJECT_ROOT / "templates" / "base.html",
    ]
)
#: Attributes whose value a person reads or hears.
READ_ATTRIBUTES = ("alt", "title", "aria-label", "placeholder", "data-confirm", r"data-say-\w+")
WORD = re.compile(r"[^\W\d_]{2,}")


def literal_words(template: Path) -> list[str]:
    """Words a template writes itself: its text between tags, and the read attributes' values,
    with every `{{ … }}` and `{% … %}` taken out (their words come from elsewhere)."""
    env = Environment(extensions=["jinja2.ext.i18n"])
    tree = env.parse(template.read_text("utf-8"))
    html = "".join(node.data for node in tree.find_all(nodes.TemplateData))
    # Tags, and attributes a block writes outside its tag (`<body{% block attrs %}`).
    text = re.sub(r'<!--.*?-->|<[^>]*>|\s[\w-]+="[^"]*"', " ", html, flags=re.S)
    found = WORD.findall(text)
    # The read attributes, as far as the template writes them itself.
    for name in READ_ATTRIBUTES:
        for value in re.findall(rf'(?<![\w-]){name}="([^"]*)"', html):
            found.extend(WORD.findall(value))
    return found


@pytest.mark.parametrize("template", PATIENT_TEMPLATES, ids=lambda p: p.name)
def test_a_patient_template_writes_no_words_of_its_own(template):
    assert literal_words(template) == []


def test_the_literal_check_finds_a_word_outside_the_catalog(tmp_path):
    page = tmp_path / "page.html"
    page.write_text(
        '{% block step %}<h1>{{ _("Thank you") }}</h1><p>Hand the tablet back</p>'
        '<img alt="A QR code" src="{{ x }}">{% endblock %}'
    )
    assert literal_words(page) == ["Hand", "the", "tablet", "back", "QR", "code"]
