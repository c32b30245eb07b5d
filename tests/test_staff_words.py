"""Every word of the staff pages from the catalogs: no staff template writes words outside
`_()` (its text and the attributes a person reads or hears), and no staff view hands a bare
English string to `flash()`, `abort()`, a `ValidationError`, a form field's label or a
validator's message, or a page title."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from jinja2 import Environment, nodes

from intake.config import PROJECT_ROOT

STAFF_TEMPLATES = sorted((PROJECT_ROOT / "templates" / "staff").glob("*.html"))
TABLET_TEMPLATES = sorted((PROJECT_ROOT / "templates" / "tablet").glob("*.html"))
STAFF_MODULES = sorted((PROJECT_ROOT / "intake" / "staff").glob("*.py"))

#: Attributes whose value a person reads or hears (and a submit input's value, its label).
READ_ATTRIBUTES = (
    "alt",
    "title",
    "aria-label",
    "placeholder",
    "data-confirm",
    "data-label",
    r"data-say-\w+",
)
WORD = re.compile(r"[^\W\d_]{2,}")
#: Not words: what a page shows as it is in every language (a hash's name, a file type, the
#: settings a clinic sets, which are named as the configuration names them).
NOT_WORDS = {"SHA", "PDF", "UTC", "QR", "TOTP", "PKCS", "CSV", "JSON", "ID"}
SETTING = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b")


def literal_words(template: Path) -> list[str]:
    """Words a template writes itself: its text between tags, the read attributes' values, and
    the value of a submit/button `<input>` (its label), with every `{{ … }}`, `{% … %}`
    and `{# … #}` taken out (their words come from elsewhere)."""
    env = Environment(extensions=["jinja2.ext.i18n"])
    tree = env.parse(template.read_text("utf-8"))
    html = "\x00".join(node.data for node in tree.find_all(nodes.TemplateData))
    # Scripts, styles, and code (a command, a setting's name) are not words of a language.
    html = re.sub(r"<(script|style|code)\b.*?</\1>", " ", html, flags=re.S | re.I)
    html = SETTING.sub(" ", html)
    text = re.sub(r'<!--.*?-->|<[^>]*>|(?:^|[\s\x00])[\w-]+="[^"]*"', " ", html, flags=re.S)
    found = WORD.findall(text)
    for name in READ_ATTRIBUTES:
        for value in re.findall(rf'(?<![\w-]){name}="([^"]*)"', html):
            found.extend(WORD.findall(value))
    for tag in re.findall(r"<input\b[^>]*>", html, flags=re.S | re.I):
        if not re.search(r'type="(?:submit|button|reset)"', tag, flags=re.I):
            continue
        for value in re.findall(r'(?<![\w-])value="([^"]*)"', tag):
            found.extend(WORD.findall(value))
    return [w for w in found if w not in NOT_WORDS]


#: Calls whose string arguments a person reads: what they say, and which arguments say it.
SPOKEN_CALLS = {"flash": 0, "abort": 1, "ValidationError": 0, "StaffError": 1}
#: Validators, and which positional argument is their message.
VALIDATORS = {"DataRequired": 0, "InputRequired": 0, "Length": 2, "AnyOf": 1, "EqualTo": 1}
#: Keyword arguments a person reads, in any call.
SPOKEN_KEYWORDS = {"message", "label", "description", "page_title", "title"}


def _parsed(module: Path) -> tuple[ast.Module, dict[str, ast.AST]]:
    """The module's tree, and the values of its module-level `NAME = ...` constants (a
    message may be handed on by the name that holds it)."""
    tree = ast.parse(module.read_text("utf-8"))
    constants = {
        target.id: statement.value
        for statement in tree.body
        if isinstance(statement, ast.Assign)
        for target in statement.targets
        if isinstance(target, ast.Name)
    }
    return tree, constants


def _called(call: ast.Call) -> str:
    """The name a call calls: `flash` for `flash(...)`, `append` for `x.problems.append(...)`."""
    func = call.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")


def _literal(node: ast.AST, constants: dict[str, ast.AST]) -> str | None:
    """The English text `node` stands for when it is a literal (or a module constant holding
    one, or a literal's `.format(…)`), else None."""
    if isinstance(node, ast.Name) and node.id in constants:
        node = constants[node.id]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        if node.func.attr == "format":
            return _literal(node.func.value, constants)
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and WORD.search(node.value):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts = [v.value for v in node.values if isinstance(v, ast.Constant)]
        text = "".join(str(p) for p in parts)
        return text if WORD.search(text) else None
    return None


def bare_strings(module: Path) -> list[str]:
    """The English literals `module` hands to the calls and keywords a person reads."""
    tree, constants = _parsed(module)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _called(node)
        spoken = list(node.args[: SPOKEN_CALLS[name] + 1]) if name in SPOKEN_CALLS else []
        if name.endswith("Field") and node.args:
            spoken.append(node.args[0])  # a field's label
        if name in VALIDATORS:
            spoken.extend(node.args[VALIDATORS[name] : VALIDATORS[name] + 1])
        spoken.extend(k.value for k in node.keywords if k.arg in SPOKEN_KEYWORDS)
        for argument in spoken:
            text = _literal(argument, constants)
            if text is not None:
                found.append((argument.lineno, f"{module.name}:{argument.lineno}: {text}"))
    return [text for _line, text in sorted(found)]


@pytest.mark.parametrize(
    "template", STAFF_TEMPLATES + TABLET_TEMPLATES, ids=lambda p: f"{p.parent.name}/{p.name}"
)
def test_a_staff_or_tablet_template_writes_no_words_of_its_own(template):
    assert literal_words(template) == []


@pytest.mark.parametrize("module", STAFF_MODULES, ids=lambda p: p.name)
def test_a_staff_view_hands_no_english_literal_to_the_reader(module):
    assert bare_strings(module) == []


def test_the_template_check_finds_words_outside_the_catalog(tmp_path):
    page = tmp_path / "page.html"
    page.write_text(
        '{# a note #}<h1>{{ _("Consents") }}</h1><p title="Hover text">{{ n }} waiting</p>'
        '<button type="submit" name="lang" value="es">{{ _("Go") }}</button>'
        '<input type="submit" value="Save"><input type="hidden" value="kept">'
        "<code>intake serve</code> SIGNING_P12 SHA-256 <script>let words = 1</script>"
    )
    assert literal_words(page) == ["waiting", "Hover", "text", "Save"]


def test_the_python_check_finds_bare_strings(tmp_path):
    module = tmp_path / "view.py"
    module.write_text(
        "from flask import abort, flash\n"
        "DONE = 'The account is ready.'\n"
        "def view():\n"
        "    flash(DONE)\n"
        "    flash(gettext('Saved.'))\n"
        "    flash(f'Revoked {name}')\n"
        "    abort(404)\n"
        "    abort(400, 'Not a tablet')\n"
        "    field = StringField('Email', validators=[DataRequired('Enter your email.')])\n"
        "    field = StringField(lazy_gettext('Email'))\n"
        "    raise ValidationError(message='Too long')\n"
        "    render_template('x.html', page_title='My account')\n"
    )
    assert [line.split(": ", 1)[1] for line in bare_strings(module)] == [
        "The account is ready.",
        "Revoked ",
        "Not a tablet",
        "Email",
        "Enter your email.",
        "Too long",
        "My account",
    ]


#: The layers without Flask whose messages staff pages show: the account rules, the tablets'
#: enrolment, the review and void notes, retention, the seal check, and why a consent's or a
#: record's PDF is not made (kept on its row, or said of one no longer pending). Their
#: messages are msgids (`N_`) or `Said` (whose own msgid is one), never English built at run
#: time (an f-string, `+`, `.format`).
SAID_MODULES = [
    PROJECT_ROOT / "intake" / path
    for path in (
        "archive/staff.py",
        "archive/accounts.py",
        "archive/passwords.py",
        "archive/witness.py",
        "archive/tablets.py",
        "archive/marks.py",
        "archive/retention.py",
        "pdf/seal.py",
        "pdf/ltv.py",
        "archive/errors.py",
        "archive/sealing.py",
        "archive/records.py",
        "archive/service.py",
        "archive/states.py",
    )
]
#: Calls whose argument (by position) a staff page shows, in those layers.
SAID_CALLS = {"StaffError": 1, "LoginRefused": 0, "TabletError": 1, "ArchiveError": 0, "Said": 0}
#: Lists a staff page shows each item of (`report.problems.append(...)`).
SAID_LISTS = {"problems", "short_of"}


def _pot_msgids() -> set[str]:
    from babel.messages.pofile import read_po

    with (PROJECT_ROOT / "intake" / "translations" / "messages.pot").open("rb") as f:
        return {m.id[0] if isinstance(m.id, tuple) else m.id for m in read_po(f) if m.id}


def unsaid_messages(module: Path, msgids: set[str]) -> list[str]:
    """The messages `module` builds in English at run time, or writes without marking them for
    the catalogs, where a staff page shows them."""
    tree, constants = _parsed(module)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = _called(node)
        if name in SAID_CALLS and len(node.args) > SAID_CALLS[name]:
            argument = node.args[SAID_CALLS[name]]
        elif (
            name == "append"
            and isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Attribute)
            and func.value.attr in SAID_LISTS
            and node.args
        ):
            argument = node.args[0]
        else:
            continue
        value = constants.get(argument.id, argument) if isinstance(argument, ast.Name) else argument
        for candidate in (value.body, value.orelse) if isinstance(value, ast.IfExp) else (value,):
            built = isinstance(candidate, (ast.JoinedStr, ast.BinOp)) or (
                isinstance(candidate, ast.Call)
                and isinstance(candidate.func, ast.Attribute)
                and candidate.func.attr == "format"
            )
            unmarked = (
                isinstance(candidate, ast.Constant)
                and isinstance(candidate.value, str)
                and candidate.value not in msgids
            )
            if built or unmarked:
                found.append(f"{module.name}:{argument.lineno}: {ast.unparse(candidate)[:60]}")
    return found


@pytest.mark.parametrize("module", SAID_MODULES, ids=lambda p: p.name)
def test_the_archives_messages_on_staff_pages_come_from_the_catalogs(module):
    assert unsaid_messages(module, _pot_msgids()) == []


def test_the_message_check_finds_english_built_at_run_time(tmp_path):
    module = tmp_path / "rules.py"
    module.write_text(
        "WAIT = f'Wait {n} seconds'\n"
        "def rule():\n"
        "    raise StaffError('password', WAIT)\n"
        "    raise StaffError('role', 'must be ' + ROLES)\n"
        "    raise LoginRefused('Not in the catalog')\n"
        "    raise LoginRefused(N_('Marked'))\n"
        "    raise ArchiveError(Said(N_('Kept until %(day)s.'), day=day))\n"
        "    report.problems.append('Marked')\n"
        "    report.problems.append('bad' if x else 'Marked')\n"
        "    report.short_of.append('{} later'.format(x))\n"
        "    raise ArchiveError(Said(f'form {form} changed'))\n"
        "    return ArchiveError(Said('Marked', form=form))\n"
    )
    assert [line.split(": ", 1)[1] for line in unsaid_messages(module, {"Marked"})] == [
        "f'Wait {n} seconds'",
        "'must be ' + ROLES",
        "'Not in the catalog'",
        "'bad'",
        "'{} later'.format(x)",
        "f'form {form} changed'",
    ]
