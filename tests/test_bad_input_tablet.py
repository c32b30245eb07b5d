"""Hostile input through the real tablet app (Flask's test client, every step as posted).

Every field of every tablet step gets empty, blank, overlong, control-character, markup,
right-to-left, emoji, combining-mark and SQL-looking values; the signature pads get missing,
empty, tiny, huge, NaN, out-of-range and malformed JSON; bodies over the size limits get 413.
`test_bad_input_cli.py` sends the same values through the command.

What each must do: never a 5xx or a traceback; either accepted (the draft keeps it exactly as
typed; the consent has it trimmed and NFC-normalised, as the README says) or refused with a
message at that very field (422); the patient's other answers kept; nothing archived before
submit, and after a refused submit no consent row and no PDF file. `test_report` counts the bad
inputs both modules try (`pytest -rA tests/test_bad_input_tablet.py` shows them).
"""

from __future__ import annotations

import io
import json
import math
import sys
import unicodedata
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from markupsafe import escape
from pypdf import PdfReader
from sqlalchemy import func, select

from intake.archive.models import Consent
from intake.archive.search import SearchCriteria
from intake.archive.service import submission_of
from intake.tablet.service import FAR_OVER
from tests import test_bad_input_cli
from tests.support.app import app_settings, new_app
from tests.support.hostile_input import (
    DEEP_LIST,
    FIELDS,
    HUGE_INT,
    INVISIBLE,
    MISSING,
    OVERRIDES,
    PADS,
    TEN_THOUSAND,
    VALUES,
    Field,
    demo,
    expected_message,
    minor_of,
    pad,
    values_for,
)
from tests.support.pdf import pdf_words, words
from tests.support.tablet import csrf_token, step_fields

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


# --- Numbers no float can hold (an integer of 400 digits) ---------------------------------------


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


# --- JSON nested deeper than Python's parser goes -----------------------------------------------


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


# --- Values that show nothing -------------------------------------------------------------------


@pytest.mark.parametrize("value", INVISIBLE.values(), ids=INVISIBLE.keys())
def test_a_name_that_shows_nothing_is_required_on_the_tablet(shared_app, tablet, value):
    tablet.fill(demo(), until="details")
    fields = {**step_fields(demo())["details"], "legal_name": value}
    response = tablet.post("/tablet/details", fields)
    assert response.status_code == 422
    assert Page(response.text).errors == {"legal_name": "Legal name is required"}


# --- Direction overrides: text that reads one way and shows another ----------------------------


@pytest.mark.parametrize("value", OVERRIDES.values(), ids=OVERRIDES.keys())
def test_direction_overrides_are_control_characters_on_the_tablet(shared_app, tablet, value):
    tablet.fill(demo(), until="details")
    fields = {**step_fields(demo())["details"], "legal_name": value}
    response = tablet.post("/tablet/details", fields)
    assert response.status_code == 422
    assert Page(response.text).errors == {
        "legal_name": "Legal name contains a control character; please retype it"
    }


# === The matrix: every field of every step, every kind of bad value ============================


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
    # ...and kept in the draft, valid or not: the step shows them when opened again, a value
    # over its field's limit cut to it, and nothing of a post far over the limits.
    reopened = Page(tablet.get(path).text)
    limit = field.max_len if isinstance(value, str) and field.max_len else None
    if limit is None or len(value) <= limit:
        assert_shows(reopened, fields)
    elif len(value) <= FAR_OVER * limit:
        assert_shows(reopened, {**fields, field.name: value.strip()[:limit]})
    else:
        assert len(reopened.values.get(field.name) or "") <= limit
    assert archived(shared_app) == before


# --- The signature pads -------------------------------------------------------------------------


PAD_LABELS = {"signature": "Your signature", "guardian_signature": "The guardian's signature"}


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def draft_pad(value: Any) -> str:
    """How the sign step shows a posted pad when opened again: as the draft keeps it, with the
    pad's own keys, a size only when it is a number, and the strokes only when they are within
    the pad's limits and made of [x, y] numbers (else none)."""
    try:
        parsed = json.loads(value) if isinstance(value, str) and value else None
    except (ValueError, RecursionError):
        parsed = None
    if not isinstance(parsed, dict) or not parsed:
        parsed = {"width": 600, "height": 200, "strokes": []}
    size = {k: v for k, v in parsed.items() if k in ("width", "height") and is_number(v)}
    strokes = parsed.get("strokes")
    well_formed = (
        isinstance(strokes, list)
        and len(strokes) <= 100
        and all(isinstance(s, list) and len(s) <= 5000 for s in strokes)
        and sum(map(len, strokes)) <= 20_000
        and all(
            isinstance(p, list) and len(p) == 2 and all(map(is_number, p))
            for s in strokes
            for p in s
        )
    )
    return json.dumps({**size, "strokes": strokes if well_formed else []})


def far_over(value: Any) -> bool:
    """A pad of more than four times the pad's limits: nothing of its step is kept."""
    try:
        strokes = json.loads(value)["strokes"]
    except (ValueError, TypeError, KeyError, RecursionError):
        return False
    return len(strokes) > 400 or sum(len(s) for s in strokes if isinstance(s, list)) > 80_000


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
        if far_over(value):
            assert again.values == shown_before  # nothing of the step kept
        else:
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


# --- The device record: a user agent with a control character ---------------------------------


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


#: The count README "Bad input" gives: a case lost from a list (a repeated dict key, say) or added
#: without the README saying so fails `test_report`.
BAD_INPUTS = 1825


def cases_of(module: ModuleType) -> dict[str, int]:
    """Test function -> how many cases its `parametrize` marks give it (their product)."""
    counts = {}
    for name, function in vars(module).items():
        if not name.startswith("test_") or name == "test_report" or not callable(function):
            continue
        counts[name] = math.prod(
            len(mark.args[1]) for mark in getattr(function, "pytestmark", [])
            if mark.name == "parametrize"
        )  # fmt: skip
    return counts


def test_report():
    """How many bad inputs the tablet and the command are tried with: one per test case."""
    by_test = cases_of(sys.modules[__name__]) | cases_of(test_bad_input_cli)
    total = sum(by_test.values())
    print(f"\nbad inputs tried: {total}")
    for name, count in sorted(by_test.items(), key=lambda kv: -kv[1]):
        print(f"  {count:5d}  {name}")
    assert total == BAD_INPUTS
