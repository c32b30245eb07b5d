"""Hostile input through the real tablet app and through `intake render --input`.

Every field of every tablet step gets empty, blank, overlong, control-character, markup,
right-to-left, emoji, combining-mark and SQL-looking values; the signature pads get missing,
empty, tiny, huge, NaN, out-of-range and malformed JSON; bodies over the size limits get 413.
The same values go through the command, field by field, in the submission JSON.

What each must do: never a 5xx or a traceback; either accepted (the draft
keeps it exactly as typed; the consent has it trimmed and NFC-normalised, as the README says) or
refused with a message at that very field (422 on the tablet; `error: <field>: ...` and exit 2
from the command); the patient's other answers kept; nothing archived before submit, and after a
refused submit no consent row and no PDF file. `test_report` prints how many bad inputs the module
tries (`pytest -rA tests/test_bad_input.py` shows it).
"""

from __future__ import annotations

import copy
import io
import json
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from markupsafe import escape
from pypdf import PdfReader
from reportlab.platypus import KeepTogether, Paragraph
from sqlalchemy import func, select

from intake.archive.models import Consent
from intake.archive.service import SearchCriteria, submission_of
from intake.cli import main
from intake.definition import FormCatalog
from intake.pdf import RenderSettings
from intake.pdf.fonts import register_fonts
from intake.pdf.render import build_story
from intake.pdf.text import visual_order
from intake.submission import validate_submission
from tests.support.app import B12, DEMO_PATH, FORMS_DIR, app_settings, new_app
from tests.support.tablet import csrf_token, step_fields

#: Leave the field out of the post (or the key out of the JSON) altogether.
MISSING = object()


DEMO_TEXT = DEMO_PATH.read_text(encoding="utf-8")


def demo() -> dict[str, Any]:
    """The demo submission: complete and valid (a fresh copy each call)."""
    return json.loads(DEMO_TEXT)


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
        # Only the error summary and the step's form: the consent text between them is long.
        summary = html.find('<div class="error-summary"')
        start = html.find('<form method="post" novalidate')
        end = html.find("</form>", start)
        if start >= 0 and end >= 0:
            head = html[summary : html.find("</div>", summary) + 6] if summary >= 0 else ""
            html = head + html[start : end + 7]
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
            elif name != "csrf_token":  # signed with the time: differs from page to page
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

    def wipe(self) -> None:
        """Tap "Start over": the draft goes (so later drafts' sweeps need not read it)."""
        if self.token is not None:
            self.client.post("/tablet/wipe", data={"csrf_token": self.token})

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


@pytest.fixture
def tablet(shared_app) -> Iterator[Tablet]:
    """A tablet session of its own, wiped afterwards."""
    session = Tablet(shared_app)
    yield session
    session.wipe()


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

HUGE_INT = "1" + "0" * 400


def test_a_coordinate_of_400_digits_is_refused_at_the_pad(shared_app, tablet):
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


# --- JSON nested deeper than Python's parser goes -----------------------------------------------

DEEP_LIST = "[" * 100_000 + "]" * 100_000
DEEP_OBJECT = '{"a":' * 100_000 + "1" + "}" * 100_000


@pytest.mark.parametrize("pad", [DEEP_LIST, DEEP_OBJECT], ids=["list", "object"])
@pytest.mark.parametrize("field", ["signature", "guardian_signature"])
def test_a_pad_nested_100000_deep_is_an_empty_pad(shared_app, tablet, minor, pad, field):
    tablet.fill(minor, until="sign")
    before = archived(shared_app)
    response = tablet.post("/tablet/sign", {**step_fields(minor)["sign"], field: pad})
    assert response.status_code == 422
    label = {"signature": "Your signature", "guardian_signature": "The guardian's signature"}
    assert Page(response.text).errors == {field: f"{label[field]} is empty: please sign on the pad"}
    assert archived(shared_app) == before


# --- An empty pad object: {} -------------------------------------------------------------------


def test_a_guardian_pad_of_an_empty_object_is_no_signature(shared_app, tablet, minor):
    """`{}` in the guardian's pad made the minor's consent valid without the guardian's block."""
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


def test_a_patient_pad_of_an_empty_object_is_an_empty_pad(shared_app, tablet):
    data = demo()
    tablet.fill(data, until="sign")
    response = tablet.post("/tablet/sign", {**step_fields(data)["sign"], "signature": "{}"})
    assert response.status_code == 422
    assert Page(response.text).errors == {
        "signature": "Your signature is empty: please sign on the pad"
    }


@pytest.mark.parametrize("pad", [{}, {"width": 600, "height": 200}, {"strokes": []}])
def test_a_guardian_pad_without_strokes_is_refused_by_the_command(cli_dir, minor, pad):
    minor["guardian"]["signature"] = pad
    result, out = render_cli(cli_dir, minor)
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
def test_a_name_that_shows_nothing_is_required_on_the_tablet(shared_app, tablet, value):
    tablet.fill(demo(), until="details")
    fields = {**step_fields(demo())["details"], "legal_name": value}
    response = tablet.post("/tablet/details", fields)
    assert response.status_code == 422
    assert Page(response.text).errors == {"legal_name": "Legal name is required"}


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
def test_direction_overrides_are_control_characters_on_the_tablet(shared_app, tablet, value):
    tablet.fill(demo(), until="details")
    fields = {**step_fields(demo())["details"], "legal_name": value}
    response = tablet.post("/tablet/details", fields)
    assert response.status_code == 422
    assert Page(response.text).errors == {
        "legal_name": "Legal name contains a control character; please retype it"
    }


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


# === The matrix: every field of every step, every kind of bad value ============================

DEFINITION = FormCatalog(FORMS_DIR).get(B12)

#: 10,000 characters: the longest health answer; longer than any other field takes.
TEN_THOUSAND = ("abcdefghi " * 1000)[:9_999] + "z"

#: id -> (value, what kind of bad it is). MISSING leaves the field out of the post.
VALUES: dict[str, tuple[Any, str]] = {
    "missing": (MISSING, "blank"),
    "empty": ("", "blank"),
    "spaces": ("   ", "blank"),
    "unicode-spaces": ("\u00a0\u3000\u2003", "blank"),
    "zero-width": ("\u200b\u2060", "blank"),
    "10000-chars": (TEN_THOUSAND, "long"),
    "10001-chars": (TEN_THOUSAND + "z", "long"),
    "nul": ("Zoë\x00O'Brien", "control"),
    "escape-codes": ("a\x07b\x1b[2Jc\x7f", "control"),
    "c1-control": ("a\x85b", "control"),
    "rtl-override": ("\u202eevil", "control"),
    "newline": ("line one\nline two", "lines"),
    "crlf-tab": ("line one\r\n\tline two", "lines"),
    "script": ("<script>alert(1)</script>", "text"),
    "para": ("<para>a</para>", "text"),
    "img": ('<img src="file:///etc/passwd"/>', "text"),
    "font": ('<font color="[[[...]]]">x</font>', "text"),
    "amp-unbalanced-b": ("Tom &amp; Jerry <b>bold", "text"),
    "arabic": ("محمد العلي", "text"),
    "hebrew": ("דוד לוי", "text"),
    "diaeresis": ("Zoë", "text"),
    "combining": ("Ze\u0301", "text"),
    "emoji": ("👩🏽\u200d⚕️", "text"),
    "sql": ("Robert'); DROP TABLE consents;--", "text"),
    "cjk": ("山田 太郎", "text"),
    # For a yes/no question or a tick only: almost a choice.
    "capital-yes": ("Yes", "text"),
    "text-false": ("false", "text"),
}


@dataclass(frozen=True)
class Field:
    """A tablet field: its step, name, kind of check, the words its errors start with."""

    step: str
    name: str
    #: Where the submission JSON has it, as errors name it.
    path: str
    kind: str  # text, lines, date, phone, email, typed, radio, tick
    label: str
    max_len: int = 0
    required: bool = True

    @property
    def anchor(self) -> str:
        """Where the error summary's link for this field jumps to."""
        return f"{self.name}-0" if self.kind == "radio" else self.name


def tablet_fields() -> list[Field]:
    statements = [a for a in DEFINITION.acknowledgments if not a.esign]
    esign = next(a for a in DEFINITION.acknowledgments if a.esign)
    p, ec = "patient", "patient.emergency_contact"
    return [
        Field("details", "legal_name", f"{p}.legal_name", "text", "Legal name", 200),
        Field(
            "details",
            "preferred_name",
            f"{p}.preferred_name",
            "text",
            "Preferred name",
            200,
            required=False,
        ),
        Field("details", "date_of_birth", f"{p}.date_of_birth", "date", "Date of birth", 10),
        Field("details", "phone", f"{p}.phone", "phone", "Phone", 40),
        Field("details", "email", f"{p}.email", "email", "Email", 254, required=False),
        Field("details", "address", f"{p}.address", "lines", "Home address", 500),
        Field("details", "ec_name", f"{ec}.name", "text", "Emergency contact name", 200),
        Field("details", "ec_phone", f"{ec}.phone", "phone", "Emergency contact phone", 40),
        Field(
            "details",
            "ec_relationship",
            f"{ec}.relationship",
            "text",
            "Emergency contact relationship",
            100,
        ),
        Field(
            "details",
            "primary_physician",
            f"{p}.primary_physician",
            "text",
            "Primary physician",
            300,
            required=False,
        ),
        Field("health", "allergies", "health.allergies", "lines", "Allergies", 10_000),
        Field(
            "health",
            "medications",
            "health.medications",
            "lines",
            "Medications and supplements",
            10_000,
        ),
        Field("health", "conditions", "health.conditions", "lines", "Medical conditions", 10_000),
        *(
            Field("health", f"q_{q.id}", f"screening.{q.id}", "radio", f"Question {n}")
            for n, q in enumerate(DEFINITION.screening, start=1)
        ),
        *(
            Field("consent", f"a_{a.id}", f"acknowledgments.{a.id}", "tick", f"Statement {n}")
            for n, a in enumerate(statements, start=1)
        ),
        Field(
            "consent",
            f"a_{esign.id}",
            f"acknowledgments.{esign.id}",
            "tick",
            "The consent to sign electronically",
        ),
        Field("sign", "typed_name", "signature.typed_name", "typed", "Your typed name", 200),
        Field("sign", "guardian_name", "guardian.name", "text", "The guardian's name", 200),
        Field(
            "sign",
            "guardian_relationship",
            "guardian.relationship",
            "text",
            "The guardian's relationship",
            100,
        ),
    ]


FIELDS = tablet_fields()


def expected_message(field: Field, value: Any, kind: str, *, web: bool = True) -> str | None:
    """What must be said about `value` in `field` (without the field's name), or None: accepted.

    The README's rules, in the order the checks run: required, length, control characters,
    then the field's own format. `web`: as the tablet posts it (a radio or a tick is a string
    there; a ticked box posts any value), else as JSON given to the command.
    """
    if field.kind == "radio":
        return None if value is True or value is False else "must be answered yes or no"
    if field.kind == "tick":
        # WTForms reads an absent box, "" or "false" as unticked, anything else as ticked.
        ticked = value not in (MISSING, "", "false") if web else value is True
        return None if ticked else "must be ticked to go on"
    if kind == "blank" or value is None:
        return "is required" if field.required else None
    if not isinstance(value, str):
        return "must be text"
    text = unicodedata.normalize("NFC", value).strip()
    if len(text) > field.max_len:
        return f"is too long ({len(text):,} characters; at most {field.max_len:,})"
    if kind == "control" or (kind == "lines" and field.kind != "lines"):
        return "contains a control character; please retype it"
    return {
        "date": "must be a date written YYYY-MM-DD",
        "phone": "is not a phone number (7 to 15 digits)",
        "email": "is not an email address (name@example.org)",
        "typed": "must match your legal name exactly",
    }.get(field.kind)


def expected_error(field: Field, value: Any, kind: str) -> str | None:
    """The message the patient must see next to `field` on the tablet, or None: accepted."""
    message = expected_message(field, value, kind)
    return None if message is None else f"{field.label} {message}"


def assert_shows(page: Page, fields: dict[str, Any]) -> None:
    """The page shows every posted answer as it was posted (radios and ticks as chosen)."""
    for name, value in fields.items():
        posted = "" if value is MISSING else value
        if name.startswith("q_"):
            chosen = {c for c in page.checked if c.startswith(f"{name}=")}
            assert chosen == ({f"{name}={posted}"} if posted in ("yes", "no") else set()), name
        elif name.startswith("a_"):
            assert (name in page.checked) == (posted not in ("", "false")), name
        else:
            assert page.values.get(name) == posted, (name, page.values.get(name), posted)


@pytest.fixture(scope="module")
def tablets(shared_app) -> Iterator[dict[str, Tablet]]:
    """A tablet session per step with every step before it filled in (a minor's, so the sign
    step asks for the guardian too). Each post replaces its whole step, so tests can share."""
    sessions = {}
    for step in ("details", "health", "consent", "sign"):
        sessions[step] = Tablet(shared_app)
        sessions[step].fill(minor_of(demo()), until=step)
    yield sessions
    for session in sessions.values():
        session.wipe()


#: A yes/no question or a tick takes no text, so one value of each kind is enough there, and
#: what a choice may be instead of "yes", "no" or "y".
CHOICE_VALUES = [
    "missing",
    "empty",
    "spaces",
    "10000-chars",
    "nul",
    "escape-codes",
    "rtl-override",
    "script",
    "img",
    "arabic",
    "combining",
    "emoji",
    "sql",
    "capital-yes",
    "text-false",
]


def values_for(field: Field, values: dict[str, Any]) -> list[str]:
    if field.kind in ("radio", "tick"):
        return [v for v in values if v in CHOICE_VALUES or v.startswith("json-")]
    return [v for v in values if v not in ("capital-yes", "text-false")]


def tablet_cases() -> list[Any]:
    return [
        pytest.param(field, value_id, id=f"{field.step}.{field.name}-{value_id}")
        for field in FIELDS
        for value_id in values_for(field, VALUES)
    ]


@pytest.mark.parametrize(("field", "value_id"), tablet_cases())
def test_tablet_field(shared_app, tablets, field: Field, value_id: str):
    value, kind = VALUES[value_id]
    tablet = tablets[field.step]
    fields = {**step_fields(minor_of(demo()))[field.step], field.name: value}
    path = f"/tablet/{field.step}"
    before = archived(shared_app)

    response = tablet.post(path, fields)

    error = expected_error(field, value, kind)
    if error is None:
        assert response.status_code == 302, Page(response.text).errors
    else:
        assert response.status_code == 422
        page = Page(response.text)
        assert page.errors == {field.name: error}
        assert page.summary == [(field.anchor, error)]
        # Shown again as typed, this field and every other one...
        assert_shows(page, fields)
    # ...and kept in the draft, valid or not: the step shows them when opened again.
    assert_shows(Page(tablet.get(path).text), fields)
    assert archived(shared_app) == before


# --- The signature pads -------------------------------------------------------------------------


def pad(strokes: Any, width: Any = 600, height: Any = 200, **dumps: Any) -> str:
    """A pad field as the tablet's script posts it (NaN and Infinity written as JSON allows)."""
    return json.dumps({"width": width, "height": height, "strokes": strokes}, **dumps)


LINE = [[300, 100], [420, 120]]
NAN, INF = float("nan"), float("inf")
EMPTY = "is empty: please sign on the pad"
SMALL = "is too small to be a signature: please sign again"
NOT_NUMBERS = "must be a point [x, y] of two numbers"
OUTSIDE = "lies outside the signature pad"
SIZE = "must be a number from 1 to 5000"
COMPACT = {"separators": (",", ":")}

#: id -> (the pad field as posted, the message at the pad; 413 for a body over the limit).
PADS: dict[str, tuple[Any, str | int]] = {
    "missing": (MISSING, EMPTY),
    "empty": ("", EMPTY),
    "spaces": ("   ", EMPTY),
    "not-json": ("not json", EMPTY),
    "json-null": ("null", EMPTY),
    "json-list": ("[]", EMPTY),
    "json-text": ('"strokes"', EMPTY),
    "empty-object": ("{}", EMPTY),
    "no-strokes": (pad([]), EMPTY),
    "strokes-as-text": (pad("M 0 0 L 100 100"), EMPTY),
    "deep-list": (DEEP_LIST, EMPTY),
    "one-point": (pad([[[300, 100]]]), SMALL),
    "a-dot": (pad([[[300, 100], [303, 101]]]), SMALL),
    "nan": (pad([[[NAN, 50], *LINE]]), NOT_NUMBERS),
    "infinity": (pad([[*LINE, [INF, 50]]]), NOT_NUMBERS),
    "minus-infinity": (pad([[*LINE, [50, -INF]]]), NOT_NUMBERS),
    "1e309": (pad([[*LINE]]).replace("420", "1e309"), NOT_NUMBERS),
    "400-digits": (pad([[*LINE]]).replace("420", HUGE_INT), NOT_NUMBERS),
    "text-coordinate": (pad([[["40", 50], *LINE]]), NOT_NUMBERS),
    "three-numbers": (pad([[[40, 50, 1], *LINE]]), NOT_NUMBERS),
    "true-coordinate": (pad([[[True, 50], *LINE]]), NOT_NUMBERS),
    "point-object": (pad([[{"x": 40, "y": 50}, *LINE]]), NOT_NUMBERS),
    "negative": (pad([[[-5, 50], *LINE]]), OUTSIDE),
    "1e308": (pad([[[1e308, 50], *LINE]]), OUTSIDE),
    "minus-1e308": (pad([[*LINE, [40, -1e308]]]), OUTSIDE),
    "empty-stroke": (pad([LINE, []]), "must be a non-empty list of points"),
    "stroke-not-list": (pad([LINE, "x"]), "must be a non-empty list of points"),
    "width-nan": (pad([LINE], width=NAN), SIZE),
    "width-zero": (pad([LINE], width=0), SIZE),
    "width-1e6": (pad([LINE], width=1e6), SIZE),
    "width-text": (pad([LINE], width="600"), SIZE),
    "height-negative": (pad([LINE], height=-200), SIZE),
    "101-strokes": (pad([LINE] * 101), "has too many strokes (at most 100)"),
    # The big ones are made when their test runs (a function), not at collection.
    "5001-point-stroke": (
        lambda: pad([[[n % 600, 100] for n in range(5001)]], **COMPACT),
        "has too many points (at most 5,000)",
    ),
    "20001-points": (
        lambda: pad([[[n % 600, 100] for n in range(5000)]] * 4 + [[[1, 1]]], **COMPACT),
        "has too many points (at most 20,000)",
    ),
    # 100,000 points as the script writes them (one decimal): 2.0 MB posted, just under the
    # 2 MiB limit, so the field's own limit refuses them; 150,000 points (3.0 MB) are over it.
    "100000-points": (
        lambda: pad([[[599.9, 199.9]] * 5000] * 20),
        "has too many points (at most 20,000)",
    ),
    "150000-points": (lambda: pad([[[599.9, 199.9]] * 5000] * 30), 413),
    "5MB": (lambda: "x" * 5_000_000, 413),
}

PAD_LABELS = {"signature": "Your signature", "guardian_signature": "The guardian's signature"}


def draft_pad(value: Any) -> str:
    """How the sign step shows a posted pad when opened again: as the draft parsed it."""
    try:
        parsed = json.loads(value) if isinstance(value, str) and value else None
    except (ValueError, RecursionError):
        parsed = None
    if not isinstance(parsed, dict) or not parsed:
        parsed = {"width": 600, "height": 200, "strokes": []}
    return json.dumps(parsed)


@pytest.mark.parametrize("pad_id", PADS)
@pytest.mark.parametrize("field", PAD_LABELS)
def test_signature_pad(shared_app, tablets, field: str, pad_id: str):
    value, error = PADS[pad_id]
    value = value() if callable(value) else value
    tablet = tablets["sign"]
    valid = step_fields(minor_of(demo()))["sign"]
    fields = {**valid, field: value}
    before = archived(shared_app)
    shown_before = Page(tablet.get("/tablet/sign").text).values

    response = tablet.post("/tablet/sign", fields)

    again = Page(tablet.get("/tablet/sign").text)
    if error == 413:
        assert response.status_code == 413
        assert again.values == shown_before  # the draft did not change
    else:
        assert response.status_code == 422
        page = Page(response.text)
        message = f"{PAD_LABELS[field]} {error}"
        assert page.errors == {field: message}
        assert page.summary == [(f"{field}-pad", message)]
        # The other answers shown again and kept; the pad as posted (an empty pad when the
        # field was left out), then as the draft parsed it.
        others = {k: v for k, v in fields.items() if k != field}
        assert_shows(page, others)
        assert page.values[field] == (draft_pad(value) if value is MISSING else value)
        assert_shows(again, others)
        assert again.values[field] == draft_pad(value)
        # A draft of megabytes: put the valid pad back, or every later sweep would read it.
        if isinstance(value, str) and len(value) > 100_000:
            assert tablet.post("/tablet/sign", valid).status_code == 302
    assert archived(shared_app) == before


# --- Submit: hostile but valid answers make exactly one sealed consent that reads them back -----


def consent_ids(app) -> set[str]:
    archive = app.extensions["archive"]
    with archive.engine.connect() as connection:
        return set(connection.scalars(select(Consent.id)))


def hostile(value: str, minor: bool = False, **health: str) -> dict[str, Any]:
    """The demo submission with `value` in every free-text answer that takes it."""
    data = minor_of(demo()) if minor else demo()
    p = data["patient"]
    for key in ("legal_name", "preferred_name", "address", "primary_physician"):
        p[key] = value
    p["emergency_contact"]["name"] = p["emergency_contact"]["relationship"] = value
    data["signature"]["typed_name"] = value
    data["health"] = {"allergies": value, "medications": value, "conditions": value, **health}
    if minor:
        data["guardian"]["name"] = data["guardian"]["relationship"] = value
    return data


def pdf_words(pdf: bytes) -> str:
    """The PDF's text, footers out, white space folded, compatibility forms (the joined Arabic
    letters the PDF stores) back to plain letters."""
    pages = PdfReader(io.BytesIO(pdf)).pages
    text = " ".join(FOOTER.sub("", page.extract_text()) for page in pages)
    return words(text)


def words(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).split())


FOOTER = re.compile(r"^Page \d+ of \d+ · .*$", re.MULTILINE)

#: Values whose every character the PDF's fonts have: the PDF gives them back as text.
READ_BACK = [
    "script",
    "para",
    "img",
    "font",
    "amp-unbalanced-b",
    "arabic",
    "hebrew",
    "diaeresis",
    "combining",
    "sql",
    "cjk",
]


@pytest.mark.parametrize(
    ("value_id", "minor"),
    [*((v, False) for v in READ_BACK), ("emoji", False), ("sql", True), ("arabic", True)],
    ids=[*READ_BACK, "emoji", "sql-minor", "arabic-minor"],
)
def test_hostile_but_valid_answers_are_archived_once_sealed_and_read_back(
    shared_app, tablet, value_id, minor
):
    value = VALUES[value_id][0]
    data = hostile(value, minor=minor)
    archive = shared_app.extensions["archive"]
    tablet.fill(data, until="review")
    before, ids = archived(shared_app), consent_ids(shared_app)
    review = tablet.get("/tablet/review").text
    assert str(escape(value)) in review
    assert "<script>alert" not in review and "<img src" not in review

    assert tablet.submit().headers["Location"] == "/tablet/done"

    rows, files = archived(shared_app)
    assert (rows, files) == (before[0] + 1, before[1] + 1)
    (consent_id,) = consent_ids(shared_app) - ids
    stored = submission_of(archive.get(consent_id))
    assert stored["patient"]["legal_name"] == value  # exactly as typed
    assert stored["health"]["allergies"] == value
    pdf = archive.pdf(consent_id)
    report = archive.check(pdf)
    assert report.holds, report.problems
    (attached,) = PdfReader(io.BytesIO(pdf)).attachments["submission.json"]
    assert json.loads(attached)["signature"]["typed_name"] == value
    # The SQL-looking name is a name: found by the staff search, the table still there.
    if value_id == "sql":
        assert consent_id in {c.id for c in archive.search(SearchCriteria(name=value)).consents}
    text = pdf_words(pdf)
    shown = words(unicodedata.normalize("NFC", value))
    if value_id == "emoji":
        # DejaVu has the staff of Aesculapius, not the woman or the skin tone: those print as
        # the missing-glyph box. The exact value is in the attached submission.json.
        assert "Legal name" in text and "⚕" in text
        return
    for row in ("Legal name", "Preferred name", "Printed name", "Signed by", "Allergies"):
        assert f"{row} {shown}" in text, row
    if value_id in ("arabic", "hebrew"):
        # pypdf reads a line that mixes directions back in its own order: see
        # test_right_to_left_names_are_isolated_in_the_forms_sentences for those lines.
        return
    assert f"Emergency contact {shown} ({shown})" in text
    if minor:
        assert f"Signed for {shown}, a minor, as {shown}" in text


def test_ten_thousand_characters_and_line_breaks_are_archived_and_read_back(shared_app, tablet):
    lines = "12 Elm St\r\n\tSpringfield, IL 62701\nUSA"
    data = hostile("Zoë O'Brien", allergies=TEN_THOUSAND, conditions=lines)
    data["patient"]["address"] = lines
    archive = shared_app.extensions["archive"]
    tablet.fill(data, until="review")
    ids = consent_ids(shared_app)
    assert tablet.submit().headers["Location"] == "/tablet/done"
    (consent_id,) = consent_ids(shared_app) - ids
    assert submission_of(archive.get(consent_id))["health"]["allergies"] == TEN_THOUSAND
    pdf = archive.pdf(consent_id)
    assert archive.check(pdf).holds
    text = pdf_words(pdf)
    assert words(TEN_THOUSAND) in text
    assert "Address 12 Elm St Springfield, IL 62701 USA" in text


# --- Submit: a refused submit leaves no row and no file ----------------------------------------

#: What the patient changes after the review page was shown: (step, field, value).
REFUSED_AT_SUBMIT = {
    "nul-in-legal-name": ("details", "legal_name", "Zoë\x00O'Brien"),
    "born-in-2099": ("details", "date_of_birth", "2099-01-01"),
    "legal-name-no-longer-typed": ("details", "legal_name", "Ann O'Brien"),
    "screening-unanswered": ("health", "q_heart_disease", MISSING),
    "allergies-too-long": ("health", "allergies", TEN_THOUSAND + "z"),
    "tick-removed": ("consent", "a_electronic_signature", MISSING),
    "empty-pad": ("sign", "signature", "{}"),
    "pad-outside": ("sign", "signature", pad([[[5, 5], [900, 6]]])),
    "guardian-pad-empty": ("sign", "guardian_signature", "{}"),
}


@pytest.mark.parametrize("change", REFUSED_AT_SUBMIT)
def test_a_submit_refused_for_bad_answers_leaves_no_row_and_no_file(shared_app, tablet, change):
    step, name, value = REFUSED_AT_SUBMIT[change]
    data = minor_of(demo())
    tablet.fill(data, until="review")
    token = Page(tablet.get("/tablet/review").text).values["submit_token"]
    before = archived(shared_app)
    tablet.post(f"/tablet/{step}", {**step_fields(data)[step], name: value})

    # The review page the patient still has open sends its submit.
    response = tablet.post("/tablet/submit", {"submit_token": token})

    assert response.headers["Location"] == "/tablet/review"
    assert archived(shared_app) == before
    assert tablet.client.get("/tablet/done").headers["Location"] == "/tablet/"


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


# --- Bodies over the size limits: 413, and the draft as it was ----------------------------------

#: (step, field) to carry the oversized value.
OVERSIZED_AT = [
    ("details", "legal_name"),
    ("health", "allergies"),
    ("consent", "a_voluntary"),
    ("sign", "typed_name"),
]


@pytest.mark.parametrize(
    "body",
    [
        "5MB-urlencoded",  # over MAX_CONTENT_LENGTH (2 MiB)
        "5MB-multipart",  # the same, sent as multipart/form-data
        "600kB-multipart",  # under 2 MiB, but one text part over Flask's 500 kB per part
    ],
)
@pytest.mark.parametrize(("step", "name"), OVERSIZED_AT, ids=[s for s, _ in OVERSIZED_AT])
def test_an_oversized_body_is_413_and_changes_nothing(shared_app, tablet, step, name, body):
    data = demo()
    tablet.fill(data, until="review")
    steps = ("details", "health", "consent", "sign")
    shown = {s: Page(tablet.get(f"/tablet/{s}").text) for s in steps}
    before = archived(shared_app)
    size = 600_000 if body.startswith("600kB") else 5_000_000
    fields = {**step_fields(data)[step], name: "x" * size}
    kwargs = {"content_type": "multipart/form-data"} if body.endswith("multipart") else {}

    response = tablet.post(f"/tablet/{step}", fields, **kwargs)

    assert response.status_code == 413
    for s in steps:
        again = Page(tablet.get(f"/tablet/{s}").text)
        assert (again.values, again.checked) == (shown[s].values, shown[s].checked), s
    assert Page(tablet.get("/tablet/review").text).values.get("submit_token")
    assert archived(shared_app) == before


# === Bugs this module found in the command's JSON reading and the tablet's device record ========


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


@pytest.mark.parametrize("agent", ["Mozilla/5.0\t(X11)", "Mozilla/5.0 \x85(X11)"])
def test_a_user_agent_with_a_control_character_does_not_block_submit(shared_app, tablet, agent):
    tablet.client.environ_base["HTTP_USER_AGENT"] = agent
    tablet.fill(demo(), until="review")
    ids = consent_ids(shared_app)
    page = Page(tablet.client.get("/tablet/review").text)
    assert page.values.get("submit_token"), page.summary
    assert tablet.submit().headers["Location"] == "/tablet/done"
    assert len(consent_ids(shared_app) - ids) == 1


# === The figure ==================================================================================


def test_report(request):
    """How many bad inputs this module tries: one per test case (and per oversized body)."""
    module = request.module
    cases = [i for i in request.session.items if i.module is module and i.name != "test_report"]
    by_test: dict[str, int] = {}
    for item in cases:
        by_test[item.originalname] = by_test.get(item.originalname, 0) + 1
    total = len(cases)
    print(f"\nbad inputs tried: {total}")
    for name, count in sorted(by_test.items(), key=lambda kv: -kv[1]):
        print(f"  {count:5d}  {name}")
