"""Hostile input through the real tablet app and through `intake render --input`.

Every field of every tablet step gets empty, blank, overlong, control-character, markup,
right-to-left, emoji, combining-mark and SQL-looking values; the signature pads get missing,
empty, tiny, huge, NaN, out-of-range and malformed JSON; bodies over the size limits get 413.
The same values go through the command, field by field, in the submission JSON.

What each must do (issue 6, "Bad input"): never a 5xx or a traceback; either accepted (the draft
keeps it exactly as typed; the consent has it trimmed and NFC-normalised, as the README says) or
refused with a message at that very field (422 on the tablet; `error: <field>: ...` and exit 2
from the command); the patient's other answers kept; nothing archived before submit, and after a
refused submit no consent row and no PDF file. `test_report` prints how many bad inputs the module
tries (`pytest -rA tests/test_bad_input.py` shows it).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from conftest import DEMO_PATH, FORMS_DIR, app_settings, csrf_token, new_app, step_fields
from sqlalchemy import func, select

from intake.archive.models import Consent
from intake.cli import main

#: Leave the field out of the post (or the key out of the JSON) altogether.
MISSING = object()


def demo() -> dict[str, Any]:
    return json.loads(DEMO_PATH.read_text(encoding="utf-8"))


def minor_of(data: dict[str, Any]) -> dict[str, Any]:
    """`data` for a patient who is 15 today, with her mother's block and signature."""
    data = copy.deepcopy(data)
    today = date.today()
    data["patient"]["date_of_birth"] = today.replace(year=today.year - 15).isoformat()
    pad = {k: v for k, v in data["signature"].items() if k != "typed_name"}
    data["guardian"] = {"name": "Ann O'Brien", "relationship": "mother", "signature": pad}
    return data


@pytest.fixture
def minor() -> dict[str, Any]:
    return minor_of(demo())


# --- The tablet, through the test client --------------------------------------------------------


class Page(HTMLParser):
    """What a step page shows: each input's value, the ticked boxes, each field's error."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.values: dict[str, str] = {}
        self.checked: set[str] = set()
        #: Field id -> the error shown next to it.
        self.errors: dict[str, str] = {}
        #: (anchor, message) of each line of the error summary at the top.
        self.summary: list[tuple[str, str]] = []
        self._textarea: str | None = None
        self._error: str | None = None
        self._in_summary = False
        self._link: str | None = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "input" and a.get("name"):
            name = str(a["name"])
            if a.get("type") == "radio":
                if "checked" in a:
                    self.checked.add(f"{name}={a.get('value')}")
            elif a.get("type") == "checkbox":
                if "checked" in a:
                    self.checked.add(name)
            else:
                self.values[name] = a.get("value") or ""
        elif tag == "textarea":
            self._textarea = str(a["name"])
            self.values[self._textarea] = ""
        elif tag == "p" and a.get("class") == "error":
            self._error = str(a["id"]).removesuffix("-error")
            self.errors[self._error] = ""
        elif tag == "div" and a.get("id") == "error-summary":
            self._in_summary = True
        elif tag == "a" and self._in_summary:
            self._link = str(a.get("href", "")).removeprefix("#")
            self.summary.append((self._link, ""))

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self.values[self._textarea] += data
        if self._error is not None:
            self.errors[self._error] += data
        if self._link is not None:
            anchor, text = self.summary[-1]
            self.summary[-1] = (anchor, text + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea" and self._textarea is not None:
            # The first line break after <textarea> is markup (HTML drops it), not the value.
            value = self.values[self._textarea]
            self.values[self._textarea] = value.removeprefix("\r\n").removeprefix("\n")
            self._textarea = None
        elif tag == "p":
            self._error = None
        elif tag == "a":
            self._link = None
        elif tag == "div":
            self._in_summary = False


class Tablet:
    """One tablet session: its own cookie and draft; the CSRF token read once from a page."""

    def __init__(self, app) -> None:
        self.client = app.test_client()
        self.token: str | None = None

    def get(self, path: str):
        page = self.client.get(path)
        assert page.status_code == 200, (path, page.status_code, page.headers.get("Location"))
        if self.token is None:
            self.token = csrf_token(page.text)
        return page

    def post(self, path: str, fields: dict[str, Any], **kwargs: Any):
        if self.token is None:
            self.get(path)
        data = {k: v for k, v in fields.items() if v is not MISSING}
        response = self.client.post(path, data={"csrf_token": self.token, **data}, **kwargs)
        assert response.status_code < 500, (path, response.status_code)
        return response

    def fill(self, data: dict[str, Any], until: str) -> None:
        """Start a draft, then fill every step before `until` with `data`."""
        self.post("/tablet/form/b12-methylcobalamin", {})
        for step, fields in step_fields(data).items():
            if step == until:
                return
            response = self.post(f"/tablet/{step}", fields)
            assert response.status_code == 302, (step, Page(response.text).errors)

    def submit(self):
        page = self.get("/tablet/review")
        token = Page(page.text).values.get("submit_token")
        assert token, "the review page offers no submit"
        return self.post("/tablet/submit", {"submit_token": token})


def archived(app) -> tuple[int, int]:
    """(consent rows, files under the PDF folder): what a refused input must leave unchanged."""
    archive = app.extensions["archive"]
    with archive.engine.connect() as connection:
        rows = connection.scalar(select(func.count()).select_from(Consent))
    folder = Path(archive.settings.files_dir)
    files = sum(1 for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0
    return rows, files


@pytest.fixture(scope="module")
def shared_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One app for the module: each test makes its own tablet session (its own draft)."""
    app = new_app(app_settings(tmp_path_factory.mktemp("bad-input")))
    yield app
    app.extensions["archive"].dispose()


# --- The command --------------------------------------------------------------------------------


def render_cli(tmp_path: Path, data: Any) -> tuple[Result, Path]:
    """`intake render --input <data as JSON> --out <pdf>`: the result and where the PDF goes."""
    source = tmp_path / "submission.json"
    source.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    out = tmp_path / "consent.pdf"
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

HUGE_INT = "1" + "0" * 400


def test_a_coordinate_of_400_digits_is_refused_at_the_pad(shared_app):
    tablet = Tablet(shared_app)
    data = demo()
    tablet.fill(data, until="sign")
    before = archived(shared_app)
    pad = json.dumps({"width": 600, "height": 200, "strokes": [[[10, 10], [300, 100]]]})
    pad = pad.replace("300", HUGE_INT)
    response = tablet.post("/tablet/sign", {**step_fields(data)["sign"], "signature": pad})
    assert response.status_code == 422
    assert Page(response.text).errors == {
        "signature": "Your signature must be a point [x, y] of two numbers"
    }
    assert archived(shared_app) == before


@pytest.mark.parametrize("where", ["width", "x", "y"])
def test_a_number_of_400_digits_is_one_error_line_from_the_command(tmp_path, where):
    data = demo()
    text = json.dumps(data)
    marker = {"width": '"width": 600', "x": "[40, 150]", "y": "[40, 150]"}[where]
    replacement = {
        "width": f'"width": {HUGE_INT}',
        "x": f"[{HUGE_INT}, 150]",
        "y": f"[40, {HUGE_INT}]",
    }[where]
    assert marker in text
    result, out = render_cli(tmp_path, text.replace(marker, replacement, 1))
    field, message = {
        "width": ("signature.width", "must be a number from 1 to 5000"),
        "x": ("signature.strokes[0][0]", "must be a point [x, y] of two numbers"),
        "y": ("signature.strokes[0][0]", "must be a point [x, y] of two numbers"),
    }[where]
    assert_refused_by_cli(result, out, field, message)


# --- JSON nested deeper than Python's parser goes -----------------------------------------------

DEEP_LIST = "[" * 100_000 + "]" * 100_000
DEEP_OBJECT = '{"a":' * 100_000 + "1" + "}" * 100_000


@pytest.mark.parametrize("pad", [DEEP_LIST, DEEP_OBJECT], ids=["list", "object"])
@pytest.mark.parametrize("field", ["signature", "guardian_signature"])
def test_a_pad_nested_100000_deep_is_an_empty_pad(shared_app, minor, pad, field):
    tablet = Tablet(shared_app)
    tablet.fill(minor, until="sign")
    before = archived(shared_app)
    response = tablet.post("/tablet/sign", {**step_fields(minor)["sign"], field: pad})
    assert response.status_code == 422
    label = {"signature": "Your signature", "guardian_signature": "The guardian's signature"}
    assert Page(response.text).errors == {field: f"{label[field]} is empty: please sign on the pad"}
    assert archived(shared_app) == before


# --- An empty pad object: {} -------------------------------------------------------------------


def test_a_guardian_pad_of_an_empty_object_is_no_signature(shared_app, minor):
    """`{}` in the guardian's pad made the minor's consent valid without the guardian's block."""
    tablet = Tablet(shared_app)
    tablet.fill(minor, until="sign")
    before = archived(shared_app)
    fields = {**step_fields(minor)["sign"], "guardian_signature": "{}"}
    response = tablet.post("/tablet/sign", fields)
    assert response.status_code == 422
    assert Page(response.text).errors == {
        "guardian_signature": "The guardian's signature is empty: please sign on the pad"
    }
    # Straight to submit (a stale review page): refused, nothing archived.
    response = tablet.client.post("/tablet/submit", data={"csrf_token": tablet.token})
    assert response.status_code == 302
    assert archived(shared_app) == before


def test_a_patient_pad_of_an_empty_object_is_an_empty_pad(shared_app):
    tablet = Tablet(shared_app)
    data = demo()
    tablet.fill(data, until="sign")
    response = tablet.post("/tablet/sign", {**step_fields(data)["sign"], "signature": "{}"})
    assert response.status_code == 422
    assert Page(response.text).errors == {
        "signature": "Your signature is empty: please sign on the pad"
    }


@pytest.mark.parametrize("pad", [{}, {"width": 600, "height": 200}, {"strokes": []}])
def test_a_guardian_pad_without_strokes_is_refused_by_the_command(tmp_path, minor, pad):
    minor["guardian"]["signature"] = pad
    result, out = render_cli(tmp_path, minor)
    assert_refused_by_cli(
        result, out, "guardian.signature.strokes", "is empty: please sign on the pad"
    )


# --- Values that show nothing -------------------------------------------------------------------

#: Zero-width space, word joiner, byte-order mark, Hangul filler, a variation selector: each
#: shows nothing, so a name of them only is no name.
INVISIBLE = {
    "zero-width-spaces": "\u200b\u200b",
    "word-joiner": "\u2060",
    "byte-order-mark": "\ufeff",
    "hangul-filler": "\u3164",
    "joiner-and-selector": "\u200b \ufe0f \u200d",
}


@pytest.mark.parametrize("value", INVISIBLE.values(), ids=INVISIBLE.keys())
def test_a_name_that_shows_nothing_is_required_on_the_tablet(shared_app, value):
    tablet = Tablet(shared_app)
    tablet.fill(demo(), until="details")
    fields = {**step_fields(demo())["details"], "legal_name": value}
    response = tablet.post("/tablet/details", fields)
    assert response.status_code == 422
    assert Page(response.text).errors == {"legal_name": "Legal name is required"}


@pytest.mark.parametrize("value", INVISIBLE.values(), ids=INVISIBLE.keys())
def test_a_name_that_shows_nothing_is_required_by_the_command(tmp_path, value):
    data = demo()
    data["patient"]["legal_name"] = value
    data["signature"]["typed_name"] = value
    data["health"]["allergies"] = value
    result, out = render_cli(tmp_path, data)
    assert_refused_by_cli(result, out, "patient.legal_name", "is required")
    assert_refused_by_cli(result, out, "health.allergies", "is required")


# --- Direction overrides: text that reads one way and shows another ----------------------------

#: "Zoë O'Brien" as a browser shows it, stored backwards behind a right-to-left override; and
#: the other embedding, override and isolate controls. The PDF prints characters in stored
#: order, the staff pages as the browser reorders them: the two would disagree.
OVERRIDES = {
    "RLO": "\u202eneirB'O ëoZ",
    "LRO": "\u202dZoë O'Brien",
    "RLE": "\u202bZoë\u202c O'Brien",
    "LRE": "\u202aZoë O'Brien",
    "RLI": "Zoë \u2067O'Brien\u2069",
    "FSI": "\u2068Zoë O'Brien\u2069",
    "LRI": "\u2066Zoë O'Brien",
}


@pytest.mark.parametrize("value", OVERRIDES.values(), ids=OVERRIDES.keys())
def test_direction_overrides_are_control_characters_on_the_tablet(shared_app, value):
    tablet = Tablet(shared_app)
    tablet.fill(demo(), until="details")
    fields = {**step_fields(demo())["details"], "legal_name": value}
    response = tablet.post("/tablet/details", fields)
    assert response.status_code == 422
    assert Page(response.text).errors == {
        "legal_name": "Legal name contains a control character; please retype it"
    }


@pytest.mark.parametrize("value", OVERRIDES.values(), ids=OVERRIDES.keys())
def test_direction_overrides_are_control_characters_for_the_command(tmp_path, value):
    data = demo()
    data["patient"]["address"] = value
    result, out = render_cli(tmp_path, data)
    assert_refused_by_cli(
        result, out, "patient.address", "contains a control character; please retype it"
    )


@pytest.mark.parametrize("mark", ["\u200e", "\u200f", "\u061c"], ids=["LRM", "RLM", "ALM"])
def test_direction_marks_are_text(tmp_path, mark):
    """The marks that reorder nothing around them stay allowed: right-to-left writers use them."""
    data = demo()
    data["patient"]["address"] = f"12 Elm St{mark}, شارع النيل"
    result, out = render_cli(tmp_path, data)
    assert result.exit_code == 0, result.output
    assert out.exists()


# --- Extra fields nested deep -------------------------------------------------------------------


@pytest.mark.parametrize("depth", [400, 600, 800])
def test_an_extra_field_nested_deep_is_kept_or_refused_in_one_line(tmp_path, depth):
    """Extra fields are allowed and kept; one nested as deep as the JSON parser reads is either
    rendered or refused as too deep, never a traceback (copy.deepcopy recursed out at ~330)."""
    text = json.dumps(demo())
    text = text[:-1] + ', "kiosk": ' + "[" * depth + "]" * depth + "}"
    result, out = render_cli(tmp_path, text)
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
def test_an_unknown_screening_key_is_named_on_one_safe_line(tmp_path, key):
    """One line per problem, naming the field: a key that is not a question of the form is
    named with its control characters escaped and cut short, so it cannot add lines, drive the
    terminal, or fill the screen."""
    data = demo()
    data["screening"][key] = False
    result, out = render_cli(tmp_path, data)
    assert result.exit_code == 2 and not out.exists()
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: screening.")
    assert lines[0].endswith(": is not a question of this form")
    assert lines[0].isprintable() and len(lines[0]) < 200
