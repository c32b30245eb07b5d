"""Hostile input through `intake render --input`: the tablet's bad values, field by field, in the
submission JSON, and files that are no submission at all.

The values are those `test_bad_input_tablet.py` posts on the tablet
(`tests/support/hostile_input.py`). What each must do: never a traceback; either accepted (the PDF
reads it back) or refused with `error: <field>: ...` on one line naming that very field, exit 2
and no PDF.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from reportlab.platypus import KeepTogether, Paragraph

from intake.cli import main
from intake.definition import FormCatalog
from intake.pdf import RenderSettings
from intake.pdf.fonts import register_fonts
from intake.pdf.render import build_story
from intake.pdf.text import visual_order
from intake.submission import validate_submission
from tests.support.app import FORMS_DIR
from tests.support.hostile_input import (
    DEFINITION,
    FIELDS,
    HUGE_INT,
    INVISIBLE,
    MISSING,
    OVERRIDES,
    PADS,
    VALUES,
    Field,
    demo,
    expected_message,
    minor_of,
    values_for,
)
from tests.support.pdf import pdf_words


@pytest.fixture(scope="module")
def cli_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli")


@pytest.fixture
def cli_dir(cli_folder: Path) -> Path:
    """Where `render_cli` writes: one folder for the module, no PDF in it yet."""
    (cli_folder / "consent.pdf").unlink(missing_ok=True)
    return cli_folder


# --- The command --------------------------------------------------------------------------------


def render_cli(folder: Path, data: Any) -> tuple[Result, Path]:
    """`intake render --input <data as JSON> --out <pdf>`: the result and where the PDF goes."""
    source = folder / "submission.json"
    source.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    out = folder / "consent.pdf"
    result = CliRunner().invoke(
        main, ["--forms-dir", str(FORMS_DIR), "render", "--input", str(source), "--out", str(out)]
    )
    return result, out


def assert_refused_by_cli(result: Result, out: Path, field: str, message: str) -> None:
    """Exit 2, one `error: <field>: <message>` line naming the field, no PDF, no traceback."""
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    assert result.exit_code == 2, result.output
    assert f"error: {field}: {message}" in result.stderr.splitlines(), result.stderr
    assert not out.exists()


# --- Numbers no float can hold (an integer of 400 digits) ---------------------------------------


@pytest.mark.parametrize("where", ["width", "x", "y"])
def test_a_number_of_400_digits_is_one_error_line_from_the_command(cli_dir, where):
    data = demo()
    text = json.dumps(data)
    marker = {"width": '"width": 600', "x": "[40, 150]", "y": "[40, 150]"}[where]
    replacement = {
        "width": f'"width": {HUGE_INT}',
        "x": f"[{HUGE_INT}, 150]",
        "y": f"[40, {HUGE_INT}]",
    }[where]
    assert marker in text
    result, out = render_cli(cli_dir, text.replace(marker, replacement, 1))
    field, message = {
        "width": ("signature.width", "must be a number from 1 to 5000"),
        "x": ("signature.strokes[0][0]", "must be a point [x, y] of two numbers"),
        "y": ("signature.strokes[0][0]", "must be a point [x, y] of two numbers"),
    }[where]
    assert_refused_by_cli(result, out, field, message)


# --- An empty pad object: {} -------------------------------------------------------------------


@pytest.mark.parametrize("pad", [{}, {"width": 600, "height": 200}, {"strokes": []}])
def test_a_guardian_pad_without_strokes_is_refused_by_the_command(cli_dir, minor, pad):
    minor["guardian"]["signature"] = pad
    result, out = render_cli(cli_dir, minor)
    assert_refused_by_cli(
        result, out, "guardian.signature.strokes", "is empty: please sign on the pad"
    )


# --- Values that show nothing -------------------------------------------------------------------


@pytest.mark.parametrize("value", INVISIBLE.values(), ids=INVISIBLE.keys())
def test_a_name_that_shows_nothing_is_required_by_the_command(cli_dir, value):
    data = demo()
    data["patient"]["legal_name"] = value
    data["signature"]["typed_name"] = value
    data["health"]["allergies"] = value
    result, out = render_cli(cli_dir, data)
    assert_refused_by_cli(result, out, "patient.legal_name", "is required")
    assert_refused_by_cli(result, out, "health.allergies", "is required")


# --- Direction overrides: text that reads one way and shows another ----------------------------


@pytest.mark.parametrize("value", OVERRIDES.values(), ids=OVERRIDES.keys())
def test_direction_overrides_are_control_characters_for_the_command(cli_dir, value):
    data = demo()
    data["patient"]["address"] = value
    result, out = render_cli(cli_dir, data)
    assert_refused_by_cli(
        result, out, "patient.address", "contains a control character; please retype it"
    )


@pytest.mark.parametrize("mark", ["\u200e", "\u200f", "\u061c"], ids=["LRM", "RLM", "ALM"])
def test_direction_marks_are_text(cli_dir, mark):
    """The marks that reorder nothing around them stay allowed: right-to-left writers use them."""
    data = demo()
    data["patient"]["address"] = f"12 Elm St{mark}, شارع النيل"
    result, out = render_cli(cli_dir, data)
    assert result.exit_code == 0, result.output
    assert out.exists()


# --- Extra fields nested deep -------------------------------------------------------------------


@pytest.mark.parametrize("depth", [400, 600, 800])
def test_an_extra_field_nested_deep_is_kept_or_refused_in_one_line(cli_dir, depth):
    """Extra fields are allowed and kept; one nested as deep as the JSON parser reads is either
    rendered or refused as too deep, never a traceback (copy.deepcopy recursed out at ~330)."""
    text = json.dumps(demo())
    text = text[:-1] + ', "kiosk": ' + "[" * depth + "]" * depth + "}"
    result, out = render_cli(cli_dir, text)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    if result.exit_code == 0:
        assert out.exists()
    else:
        assert_refused_by_cli(result, out, "submission", "is nested too deeply")
    if depth <= 600:
        assert result.exit_code == 0, result.output


# --- Keys of the submission named in error lines ------------------------------------------------


FORGED_KEYS = {
    "line-break": "x\nerror: patient.legal_name: forged line",
    "terminal-escape": "\x1b]0;pwned\x07\x1b[2J",
    "10000-characters": "q" * 10_000,
}


@pytest.mark.parametrize("key", FORGED_KEYS.values(), ids=FORGED_KEYS.keys())
def test_an_unknown_screening_key_is_named_on_one_safe_line(cli_dir, key):
    """One line per problem, naming the field: a key that is not a question of the form is
    named with its control characters escaped and cut short, so it cannot add lines, drive the
    terminal, or fill the screen."""
    data = demo()
    data["screening"][key] = False
    result, out = render_cli(cli_dir, data)
    assert result.exit_code == 2 and not out.exists()
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: screening.")
    assert lines[0].endswith(": is not a question of this form")
    assert lines[0].isprintable() and len(lines[0]) < 200


# --- Right-to-left names inside the form's own sentences ----------------------------------------


def paragraphs(story: list[Any]) -> Iterator[Paragraph]:
    for flowable in story:
        if isinstance(flowable, KeepTogether):
            yield from paragraphs(flowable._content)
        elif isinstance(flowable, Paragraph):
            yield flowable


def test_right_to_left_names_are_isolated_in_the_forms_sentences(cli_dir):
    """A sentence of the form's with an Arabic name in it reads left to right, the name right
    to left within itself. Reordered as one right-to-left line, the emergency contact's phone
    printed as "2001 010 555 1+" and "Signed for <name>, a minor, as <mother>" as
    "<mother> a minor, as ,<name>"."""
    data = minor_of(demo())
    name, brother, guardian, mother = "محمد العلي", "أخ", "سارة", "أم"
    ec = data["patient"]["emergency_contact"]
    ec["name"], ec["relationship"] = name, brother
    data["patient"]["legal_name"] = data["signature"]["typed_name"] = name
    data["guardian"]["name"], data["guardian"]["relationship"] = guardian, mother

    result, out = render_cli(cli_dir, data)
    assert result.exit_code == 0, result.output
    text = pdf_words(out.read_bytes())
    assert f"· {ec['phone']}" in text and "2001 010 555 1+" not in text
    assert f"a minor, as {mother}" in text

    # What is drawn, left to right: each name in its own visual order, the sentence around it.
    register_fonts()
    submission = validate_submission(data, FormCatalog(FORMS_DIR))
    story = build_story(DEFINITION, submission, RenderSettings(), "doc", 400)
    rows = {p.bulletText: p.text for p in paragraphs(story) if p.bulletText}
    v = visual_order
    assert rows["Emergency contact"] == f"{v(name)} ({v(brother)}) · {ec['phone']}"
    assert rows["Signed for"] == f"{v(name)}, a minor, as {v(mother)}"
    assert rows["Guardian"] == f"{v(guardian)} ({v(mother)}) for a minor"


# === The command: `intake render --input` with the same values, field by field =================


#: The tablet's values, and JSON's other types in a field that wants text, yes/no or a tick.
CLI_VALUES: dict[str, tuple[Any, str]] = {
    **VALUES,
    "json-null": (None, "json"),
    "json-number": (42, "json"),
    "json-list": (["Zoë"], "json"),
    "json-object": ({"name": "Zoë"}, "json"),
    "json-true": (True, "json"),
    "json-false": (False, "json"),
}


def put(data: dict[str, Any], path: str, value: Any) -> None:
    """Set `path` ("patient.emergency_contact.name") in `data`; MISSING removes the key."""
    *parents, key = path.split(".")
    for parent in parents:
        data = data[parent]
    if value is MISSING:
        data.pop(key, None)
    else:
        data[key] = value


def cli_cases() -> Iterator[Any]:
    for field in FIELDS:
        for value_id in values_for(field, CLI_VALUES):
            value = CLI_VALUES[value_id][0]
            if field.kind in ("radio", "tick") and value is True:
                continue  # the ordinary answer
            if field.kind == "radio" and value is False:
                continue
            yield pytest.param(field, value_id, id=f"{field.path}-{value_id}")


@pytest.mark.parametrize(("field", "value_id"), list(cli_cases()))
def test_command_field(cli_dir, field: Field, value_id: str):
    value, kind = CLI_VALUES[value_id]
    data = minor_of(demo()) if field.path.startswith("guardian.") else demo()
    put(data, field.path, value)
    if field.path == "patient.legal_name":
        put(data, "signature.typed_name", value)  # signed with the name given

    result, out = render_cli(cli_dir, data)

    message = expected_message(field, value, kind, web=False)
    if message is None:
        assert result.exit_code == 0, result.output
        assert out.exists() and result.stdout.startswith(f"wrote {out}")
    else:
        assert_refused_by_cli(result, out, field.path, message)


def cli_pads() -> Iterator[Any]:
    """The tablet's pad values that are JSON objects, as the command reads them."""
    for pad_id, (value, error) in PADS.items():
        if error == 413:
            continue  # the command reads files: no body limit
        if callable(value):  # big: parsed when the test runs
            for where in ("signature", "guardian.signature"):
                yield pytest.param(where, value, error, id=f"{where}-{pad_id}")
            continue
        try:
            parsed = json.loads(value) if isinstance(value, str) else None
        except (ValueError, RecursionError):
            parsed = None
        if isinstance(parsed, dict) and parsed:
            for where in ("signature", "guardian.signature"):
                yield pytest.param(where, parsed, error, id=f"{where}-{pad_id}")
    # What only JSON can say.
    for where in ("signature", "guardian.signature"):
        yield pytest.param(where, None, "is required", id=f"{where}-null")
        yield pytest.param(where, "[[10, 10]]", "must be an object", id=f"{where}-text")
        yield pytest.param(where, [], "must be an object", id=f"{where}-list")


@pytest.mark.parametrize(("where", "value", "error"), list(cli_pads()))
def test_command_pad(cli_dir, where: str, value: Any, error: str):
    if callable(value):
        value = json.loads(value())
    data = minor_of(demo())
    if where == "signature" and isinstance(value, dict):
        value = {"typed_name": data["signature"]["typed_name"], **value}
    put(data, where, value)
    result, out = render_cli(cli_dir, data)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    assert result.exit_code == 2 and not out.exists()
    lines = result.stderr.splitlines()
    assert any(ln.startswith(f"error: {where}") and ln.endswith(f": {error}") for ln in lines), (
        lines
    )


#: A whole file the command cannot use: (file bytes, the start of its one error line after
#: "error: <file>: "; None: the line names the field instead).
BAD_FILES: dict[str, tuple[bytes, str]] = {
    "empty-file": (b"", "not valid JSON"),
    "not-json": (b"consent: yes", "not valid JSON"),
    "truncated": (json.dumps(demo()).encode()[:-10], "not valid JSON"),
    "utf-8-bom": (b"\xef\xbb\xbf" + json.dumps(demo()).encode(), "not valid JSON"),
    "latin-1": ('{"form": "Zoë"}'.encode("latin-1"), "not UTF-8 text"),
    "binary": (bytes(range(256)) * 20, "not UTF-8 text"),
    "5MB-garbage": (b"[" + b"1," * 2_500_000 + b"x]", "not valid JSON"),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_command_file_that_is_not_a_submission(cli_dir, case):
    content, error = BAD_FILES[case]
    source = cli_dir / "submission.json"
    source.write_bytes(content)
    out = cli_dir / "consent.pdf"
    result = CliRunner().invoke(
        main, ["--forms-dir", str(FORMS_DIR), "render", "--input", str(source), "--out", str(out)]
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    assert result.exit_code == 2 and not out.exists()
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: {source}: {error}")


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ([], "submission", "must be an object"),
        (None, "submission", "is required"),
        ("consent", "submission", "must be an object"),
        (
            {**demo(), "form": "../../etc/passwd"},
            "form",
            "is not a known form (known: b12-methylcobalamin)",
        ),
        (
            {**demo(), "form": ["b12-methylcobalamin"]},
            "form",
            "is not a known form (known: b12-methylcobalamin)",
        ),
        ({**demo(), "signed_at": "yesterday"}, "signed_at", "must be a date and time like"),
        ({**demo(), "signed_at": "2026-11-29T10:15:00"}, "signed_at", "must include a UTC offset"),
        ({**demo(), "device": {"ip": "<script>"}}, "device.ip", "is not an IP address"),
        ({**demo(), "device": {"user_agent": "x\x00"}}, "device.user_agent", "contains a"),
        ({**demo(), "guardian": {"name": "Ann"}}, "guardian", "is only for a patient under 18"),
    ],
    ids=[
        "top-level-list",
        "top-level-null",
        "top-level-text",
        "form-path",
        "form-list",
        "signed-at-words",
        "signed-at-no-offset",
        "device-ip-markup",
        "device-user-agent-nul",
        "adult-with-guardian",
    ],
)
def test_command_submission_level(cli_dir, data, field, message):
    result, out = render_cli(cli_dir, json.dumps(data))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    assert result.exit_code == 2 and not out.exists()
    assert any(ln.startswith(f"error: {field}: {message}") for ln in result.stderr.splitlines())


# --- JSON the parser itself refuses: one error line, no traceback ------------------------------


@pytest.mark.parametrize(
    "content",
    ['{"form": ' + "1" * 5000 + "}", "[" * 100_000 + "]" * 100_000],
    ids=["5000-digit-integer", "nested-100000-deep"],
)
def test_command_json_the_parser_refuses_is_one_error_line(cli_dir, content):
    result, out = render_cli(cli_dir, content)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    assert result.exit_code == 2 and not out.exists()
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: {cli_dir / 'submission.json'}: not valid JSON")
