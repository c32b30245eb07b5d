"""The tablet flow in real headless Chromium, with touch input, portrait and landscape.

Fills every step as a patient would, draws the signature with touch events (Chrome DevTools
Protocol), submits, downloads the patient copy and reads it back with pypdf. Screenshots of every
step go to `test-artifacts/screenshots/`. Without Chromium the tests skip, except under CI=true,
where they fail.
"""

from __future__ import annotations

import io
import math
import re
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from intake.definition import ConsentDefinition
from intake.tablet.devices import COOKIE
from intake.tablet.drafts import FileDrafts
from tests.support.app import B12, app_settings, new_app
from tests.support.browser import LANDSCAPE, PORTRAIT, SCREENSHOTS, serving
from tests.support.devices import enrol

#: The patient's own phone, which opens the copy's link from the QR code.
PHONE = {"width": 390, "height": 844}
#: The sizes at which no page may scroll sideways.
NO_SIDEWAYS_SCROLL = [{"width": 768, "height": 1024}, {"width": 1024, "height": 768}]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    """The app on a free port of 127.0.0.1, with its own instance folder."""
    app = new_app(app_settings(tmp_path_factory.mktemp("e2e"), TESTING=False))
    with serving(app) as base_url:
        yield base_url, app


@pytest.fixture
def tablet_page(chromium: Any, server: tuple[str, Any]) -> Iterator[Any]:
    """A tablet: 820 x 1180, touch screen, mobile viewport rules (as on an iPad or Android),
    enrolled as one of the clinic's tablets."""
    base_url, app = server
    context = chromium.new_context(
        viewport=PORTRAIT, has_touch=True, is_mobile=True, accept_downloads=True
    )
    device = enrol(app.extensions["archive"])
    context.add_cookies([{"name": COOKIE, "value": device, "url": base_url, "httpOnly": True}])
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def shoot(page: Any, name: str) -> None:
    """Screenshots in portrait and landscape; and no sideways scrolling at 768 or 1024 wide."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}-portrait.png")
    page.set_viewport_size(LANDSCAPE)
    page.screenshot(path=SCREENSHOTS / f"{name}-landscape.png")
    for size in NO_SIDEWAYS_SCROLL:
        page.set_viewport_size(size)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name} scrolls sideways by {overflow}px at {size}"
    page.set_viewport_size(PORTRAIT)


def signature_strokes(left: float, top: float, width: float, height: float) -> list[list[tuple]]:
    """A handwritten-looking signature inside a box: loops along a baseline, then an underline."""
    loops = []
    for i in range(60):
        t = i / 59
        x = left + width * (0.08 + 0.6 * t) + math.sin(t * 6 * math.pi) * width * 0.03
        y = top + height * (0.55 - 0.25 * math.cos(t * 6 * math.pi) * (1 - 0.4 * t))
        loops.append((x, y))
    underline = [(left + width * (0.2 + 0.6 * i / 19), top + height * 0.8) for i in range(20)]
    return [loops, underline]


def draw(page: Any, canvas_selector: str) -> None:
    """Sign on a pad with a finger: touch events through the Chrome DevTools Protocol.

    Events carry timestamps a display frame apart, and the finger rests before it lifts, as a
    real one does; without them the browser reads each stroke as a fling and swallows the next
    tap to stop it.
    """
    canvas = page.locator(canvas_selector)
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    cdp = page.context.new_cdp_session(page)
    clock = time.time()
    for stroke in signature_strokes(box["x"], box["y"], box["width"], box["height"]):
        (x, y), rest = stroke[0], stroke[1:]

        def touch(kind: str, points: list[dict[str, float]]) -> None:
            nonlocal clock
            clock += 1 / 60
            cdp.send(
                "Input.dispatchTouchEvent",
                {"type": kind, "touchPoints": points, "timestamp": clock},
            )

        touch("touchStart", [{"x": x, "y": y}])
        for x, y in rest:
            touch("touchMove", [{"x": x, "y": y}])
        for _ in range(6):
            touch("touchMove", [{"x": x, "y": y}])
        touch("touchEnd", [])
    cdp.detach()


def strokes_in(page: Any, field: str) -> list:
    return page.evaluate(f"JSON.parse(document.querySelector('[name={field}]').value).strokes")


def arrive(page: Any, step: str) -> None:
    page.wait_for_url(re.compile(rf"/tablet/{step}(#.*)?$"))


def tap(page: Any, button: str) -> None:
    page.get_by_role("button", name=button, exact=True).tap()


def fill_in(page: Any, base: str, data: dict[str, Any], definition: ConsentDefinition, name: str):
    """Every step from the welcome to the review, with screenshots."""
    p = data["patient"]
    page.goto(f"{base}/tablet/form/{B12}")
    shoot(page, f"{name}-1-welcome")
    tap(page, "Start")

    arrive(page, "details")
    if name == "adult":
        tap(page, "Continue")
        page.wait_for_selector("#error-summary h2")
        summary = page.locator("#error-summary")
        assert "Legal name is required" in summary.inner_text()
        assert page.evaluate("document.activeElement.id") == "error-summary"
        shoot(page, f"{name}-2-details-errors")
        summary.get_by_role("link", name="Legal name is required").click()
        assert page.evaluate("document.activeElement.id") == "legal_name"
    page.fill("#legal_name", p["legal_name"])
    page.fill("#preferred_name", p["preferred_name"])
    page.fill("#date_of_birth", p["date_of_birth"])
    page.fill("#phone", p["phone"])
    page.fill("#email", p["email"])
    page.fill("#address", p["address"])
    page.fill("#ec_name", p["emergency_contact"]["name"])
    page.fill("#ec_phone", p["emergency_contact"]["phone"])
    page.fill("#ec_relationship", p["emergency_contact"]["relationship"])
    page.fill("#primary_physician", p["primary_physician"])
    shoot(page, f"{name}-2-details")
    tap(page, "Continue")

    arrive(page, "health")
    for key in ("allergies", "medications", "conditions"):
        page.fill(f"#{key}", data["health"][key])
    for question in definition.screening:
        page.check(f"#q_{question.id}-{0 if data['screening'][question.id] else 1}")
    shoot(page, f"{name}-3-health")
    tap(page, "Continue")

    arrive(page, "consent")
    for ack in definition.acknowledgments:
        page.check(f"#a_{ack.id}")
    page.evaluate("window.scrollTo(0, 0)")
    shoot(page, f"{name}-4-consent")
    tap(page, "Continue to sign")

    arrive(page, "sign")
    page.evaluate("window.scrollTo(0, 0)")
    tap(page, "Continue to review")
    # Every error of the step at once: the empty pad and the fields not filled in yet.
    page.wait_for_selector("#error-summary h2")
    summary = page.locator("#error-summary").inner_text()
    assert "Your signature is empty" in summary and "Your typed name is required" in summary
    if data.get("guardian"):
        assert "guardian's name is required" in summary and "guardian's signature" in summary
    expect(page.locator("#signature-message")).to_have_text("Please sign on the pad.")
    assert page.locator("#signature-message").inner_text() == "Please sign on the pad."
    assert page.url.endswith("/tablet/sign")
    draw(page, "#signature-pad")
    assert len(strokes_in(page, "signature")) == 2
    draw(page, "#signature-pad")
    page.locator("[data-pad]").first.get_by_role("button", name="Undo").tap()
    assert len(strokes_in(page, "signature")) == 3
    page.fill("#typed_name", p["legal_name"])
    if data.get("guardian"):
        g = data["guardian"]
        page.fill("#guardian_name", g["name"])
        page.fill("#guardian_relationship", g["relationship"])
        draw(page, "#guardian_signature-pad")
    page.evaluate("window.scrollTo(0, 0)")
    before = strokes_in(page, "signature")
    shoot(page, f"{name}-5-sign")
    assert strokes_in(page, "signature") == before, "rotating the tablet changed the signature"
    assert page.evaluate("document.querySelector('#signature-pad').width") > 0
    tap(page, "Continue to review")

    arrive(page, "review")
    shoot(page, f"{name}-6-review")


def pdf_text(data: bytes) -> str:
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    return " ".join(text.replace("’", "'").split())


def submit_and_check_copy(
    page: Any, base: str, app: Any, data: dict[str, Any], definition, name: str
) -> str:
    """Submit, then take the copy as the patient would: the thank-you screen's QR code on the
    patient's own phone (another browser, no tablet), opened with the code shown beside it."""
    tap(page, "Submit")
    arrive(page, "done")
    assert "hand the tablet back" in page.inner_text("main")
    qr = page.locator("img.phone-copy-qr")
    assert qr.is_visible()
    assert page.evaluate("document.querySelector('img.phone-copy-qr').naturalWidth") > 0
    box = qr.bounding_box()
    assert box and box["width"] >= 200 and box["height"] >= 200
    assert page.locator("a[download], a[href$='.pdf'], a[href*='/copy/']").count() == 0
    code = page.inner_text(".phone-copy-code code")
    shoot(page, f"{name}-7-done")
    name_of_cookie = app.config["SESSION_COOKIE_NAME"]
    cookie = next(c for c in page.context.cookies() if c["name"] == name_of_cookie)
    draft_id = app.session_interface.get_signing_serializer(app).loads(cookie["value"])["draft_id"]
    drafts = FileDrafts(app.config["DRAFTS_DIR"], app.config["DRAFT_TTL_SECONDS"])
    token = drafts.get(draft_id).copy_token
    phone = page.context.browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        phone_page = phone.new_page()
        with phone_page.expect_download() as download:
            phone_page.evaluate("url => { window.location.href = url }", f"{base}/copy/{token}")
        reader = PdfReader(io.BytesIO(Path(download.value.path()).read_bytes()))
    finally:
        phone.close()
    assert reader.is_encrypted and reader.decrypt(code)
    text = " ".join("".join(p.extract_text() for p in reader.pages).replace("’", "'").split())
    assert data["patient"]["legal_name"] in text
    for tier in definition.side_effects:
        for item in tier.items:
            assert " ".join(item.split()) in text, item
    return text


def test_an_adult_fills_signs_and_downloads_a_copy(tablet_page, server, demo_data, definition):
    page = tablet_page
    base, app = server
    started = time.monotonic()
    fill_in(page, base, demo_data, definition, "adult")
    review = page.inner_text("main")
    assert "Zoë O'Brien" in review and "Warfarin" in review
    submit_and_check_copy(page, base, app, demo_data, definition, "adult")
    assert time.monotonic() - started < 45


def test_a_minor_signs_with_a_guardian(tablet_page, server, demo_data, definition):
    page = tablet_page
    base, app = server
    today = date.today()
    demo_data["patient"]["legal_name"] = "Lena Nowak"
    demo_data["patient"]["date_of_birth"] = today.replace(year=today.year - 15).isoformat()
    demo_data["guardian"] = {"name": "Maria Nowak", "relationship": "mother"}
    fill_in(page, base, demo_data, definition, "minor")
    assert "Maria Nowak (mother)" in page.inner_text("main")
    app.config["DONE_CLEAR_SECONDS"] = 4
    try:
        text = submit_and_check_copy(page, base, app, demo_data, definition, "minor")
        assert "Maria Nowak" in text and "Lena Nowak, a minor, as mother" in text
        page.wait_for_url(f"**/tablet/form/{B12}", timeout=8_000)
    finally:
        app.config["DONE_CLEAR_SECONDS"] = 90


def test_an_idle_tablet_asks_then_wipes_the_draft(tablet_page, server):
    page = tablet_page
    base, app = server
    app.config.update(IDLE_TIMEOUT_SECONDS=1, IDLE_WARNING_SECONDS=2)
    try:
        page.goto(f"{base}/tablet/form/{B12}")
        tap(page, "Start")
        arrive(page, "details")
        page.fill("#legal_name", "Zoë O'Brien")
        tap(page, "Continue")
        page.wait_for_selector("#idle-dialog[open]", timeout=5_000)
        assert "Are you still there?" in page.inner_text("#idle-dialog")
        shoot(page, "idle-dialog")
        page.wait_for_url(f"**/tablet/form/{B12}", timeout=6_000)
        page.goto(f"{base}/tablet/details")
        assert page.url.endswith("/tablet/")
        assert "O'Brien" not in page.content()
    finally:
        app.config.update(IDLE_TIMEOUT_SECONDS=180, IDLE_WARNING_SECONDS=30)
