"""Round trips through the consent PDF: render, read back with pypdf, and check what a clinic
and a patient will rely on."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from typing import Any

import pytest
from pypdf import PdfReader

from intake.config import PROJECT_ROOT
from intake.definition import ConsentDefinition, FormCatalog
from intake.pdf import RenderSettings, render_consent
from intake.pdf.metadata import ATTACHMENT_NAME
from intake.pdf.text import pdf_text
from intake.submission import validate_submission
from tests.support.app import DEMO_DOCUMENT_ID
from tests.support.pdf import pdf_words, words

DOC_ID = DEMO_DOCUMENT_ID


def render(data: dict[str, Any], catalog: FormCatalog, **kwargs: Any) -> bytes:
    submission = validate_submission(data, catalog)
    return render_consent(catalog.get(submission.form_id), submission, document_id=DOC_ID, **kwargs)


@pytest.fixture(scope="module")
def demo_text(demo_pdf: bytes) -> str:
    return pdf_words(demo_pdf)


def consent_phrases(definition: ConsentDefinition) -> list[str]:
    phrases = [definition.title, definition.purpose]
    for section in definition.sections:
        phrases += [section.heading, *section.paragraphs, *section.items]
    for tier in definition.side_effects:
        phrases += [tier.heading, tier.intro, *tier.items, tier.action]
    phrases += [a.text for a in definition.acknowledgments]
    phrases += [q.question for q in definition.screening]
    phrases += [definition.signature.meaning, definition.signature.clinician_line]
    return phrases


def test_every_word_of_the_consent_is_in_the_pdf(demo_text: str, definition: ConsentDefinition):
    missing = [p for p in consent_phrases(definition) if words(p) not in demo_text]
    assert missing == []


@pytest.mark.parametrize(
    "phrase",
    [
        # The clinic's own document: benefits, schedule, methylcobalamin, all three tiers.
        "Increases energy",
        "Boosts the immune system",
        "Increases metabolism and assists in weight management",
        "Improves mood and mental alertness",
        "Combats stress and irritability",
        "once weekly for 4 weeks, then once every month for routine maintenance",
        "There is no upper limit for the intake of vitamin B12",
        "we inject methylcobalamin into a large muscle group",
        "It does not contain cyanide.",
        "remains in the body for a longer period of time, and at higher levels, than",
        "reducing nerve pain and improving irritability, stress and anxiety",
        "This version of vitamin B12 is not used by Skin Heaven Medical Spa.",
        "pain, redness, or itching at the site of the injection",
        "mild diarrhea",
        "a swelling sensation in the body",
        "muscle cramps",
        "irregular heartbeat",
        "unusual weakness or tiredness",
        "swelling of the ankles or feet",
        "itching and swelling of the face, throat, or tongue",
        "breathing difficulties",
        "severe dizziness",
        "sudden vision changes",
        "slurred speech",
        "call 911",
        "require immediate medical attention",
        "If any of these persist or worsen, tell a clinician",
    ],
)
def test_seed_content_survives_the_round_trip(demo_text: str, phrase: str):
    assert phrase in demo_text


def test_patient_answers_and_signature_block(demo_text: str, demo_data: dict[str, Any]):
    patient = demo_data["patient"]
    for value in (
        patient["legal_name"],
        patient["date_of_birth"],
        patient["phone"],
        patient["email"],
        patient["emergency_contact"]["name"],
        demo_data["health"]["medications"],
        "Printed name Zoë O'Brien",
        "29 November 2026, 10:15:00 (UTC-05:00)",
        "2026-11-29T10:15:00-05:00",
        "Clinician name",
    ):
        assert words(value) in demo_text


def test_screening_flags_are_highlighted_for_the_clinician(demo_text: str):
    assert "Clinician review required: 2 screening answer(s) below." in demo_text
    assert "take a blood thinner? Clinician review required (CAUTION)" in demo_text
    assert "Do you have heart disease? Clinician review required (CAUTION)" in demo_text
    assert demo_text.count("Clinician review required (") == 2


def test_no_flag_no_review_banner(demo_data: dict[str, Any], catalog: FormCatalog):
    demo_data["screening"] = {k: False for k in demo_data["screening"]}
    text = pdf_words(render(demo_data, catalog))
    assert "Clinician review required" not in text


def test_stop_level_answer_says_stop(demo_data: dict[str, Any], catalog: FormCatalog):
    demo_data["screening"]["cobalt_b12_allergy"] = True
    assert "vitamin B12? Clinician review required (STOP)" in pdf_words(render(demo_data, catalog))


def test_every_page_has_the_footer(demo_pdf: bytes):
    pages = PdfReader(io.BytesIO(demo_pdf)).pages
    assert len(pages) >= 3
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)} · {DOC_ID}" in page.extract_text()


def test_signing_record_is_the_last_page(demo_pdf: bytes, demo_data, catalog, definition):
    submission = validate_submission(demo_data, catalog)
    last = words(PdfReader(io.BytesIO(demo_pdf)).pages[-1].extract_text())
    assert last.startswith("Signing record")
    for value in (
        f"Document id {DOC_ID}",
        "IP address 203.0.113.5",
        "Mozilla/5.0 (iPad;",
        f"{definition.id}, version {definition.version}",
        definition.sha256,
        submission.sha256,
        f"patient: {len(submission.signature.strokes)} strokes",
    ):
        assert value in last


def test_attachment_is_the_submission_exactly(demo_pdf: bytes, demo_data: dict[str, Any]):
    reader = PdfReader(io.BytesIO(demo_pdf))
    assert list(reader.attachments) == [ATTACHMENT_NAME]
    (content,) = reader.attachments[ATTACHMENT_NAME]
    assert json.loads(content) == demo_data


def test_extra_fields_travel_in_the_attachment(demo_data: dict[str, Any], catalog: FormCatalog):
    demo_data["kiosk"] = {"tablet": "front-desk-2"}
    (content,) = PdfReader(io.BytesIO(render(demo_data, catalog))).attachments[ATTACHMENT_NAME]
    assert json.loads(content)["kiosk"] == {"tablet": "front-desk-2"}


def test_metadata_carries_the_form_and_no_patient_data(demo_pdf: bytes, demo_data, definition):
    reader = PdfReader(io.BytesIO(demo_pdf))
    info = reader.metadata
    assert info.title == definition.title
    assert definition.version in info.subject
    assert DOC_ID in info["/Keywords"]
    xmp = reader.xmp_metadata
    assert xmp.dc_identifier == DOC_ID
    assert xmp.dc_title == {"x-default": definition.title}
    # Every revision of the file, raw: no name, birth date, phone or email anywhere outside
    # compressed page content and the attachment.
    everything = json.dumps({k: str(v) for k, v in info.items()}) + xmp.stream.get_data().decode()
    patient = demo_data["patient"]
    for value in ("Zoë", "O'Brien", "O&apos;Brien", patient["date_of_birth"], "555 010", "zoe@"):
        assert value not in everything


def test_signature_is_drawn_as_vector_curves(demo_pdf: bytes, demo_data: dict[str, Any]):
    reader = PdfReader(io.BytesIO(demo_pdf))
    content = b"".join(page.get_contents().get_data() for page in reader.pages)
    curves = len(re.findall(rb"(?<=\d) c(?=[\s])", content))
    points = sum(len(s) for s in demo_data["signature"]["strokes"])
    # One Bézier segment between each pair of points in strokes longer than two points.
    assert curves >= points - 2 * len(demo_data["signature"]["strokes"])
    # No raster anywhere: the signature is paths, not a picture.
    assert not any("/XObject" in page["/Resources"] for page in reader.pages)


NAMES = {
    "greek": "Γιώργος Παπαδόπουλος",
    "cyrillic": "Анна Иванова",
    "vietnamese": "Nguyễn Thị Minh Khai",
    "polish": "Łukasz Żółć-Brzęczyszczykiewicz",
    "chinese": "王小明",
    "japanese": "山田 太郎",
    "korean": "김민준",
    "arabic": "محمد العلي",
    "hebrew": "דוד לוי",
}


@pytest.mark.parametrize("script", NAMES)
def test_names_in_any_script_come_back_as_text(script, demo_data, catalog):
    name = NAMES[script]
    demo_data["patient"]["legal_name"] = name
    demo_data["signature"]["typed_name"] = name
    text = pdf_words(render(demo_data, catalog))
    assert f"Legal name {words(name)}" in text
    assert f"Printed name {words(name)}" in text


@pytest.mark.parametrize(
    "typed",
    [
        "<b>not bold</b>",
        "Tom &amp; Jerry & Co",
        '<img src="file:///etc/passwd"/>',
        '<font color="[[[red">x</font>',
        "<para>a</para> <br/> &lt;",
        "<script>alert(1)</script>",
    ],
)
def test_markup_typed_by_a_patient_prints_literally(typed, demo_data, catalog):
    demo_data["health"]["allergies"] = typed
    demo_data["patient"]["address"] = typed
    text = pdf_words(render(demo_data, catalog))
    assert f"Allergies {words(typed)}" in text
    assert "root:x:0:0" not in text


def test_pdf_text_is_the_one_escape():
    assert pdf_text("a < b & c > d") == "a &lt; b &amp; c &gt; d"
    assert pdf_text("line one\nline two") == "line one<br/>line two"
    assert pdf_text("名前") == '<font name="WenQuanYiMicroHei">名前</font>'


def test_the_cjk_face_is_read_when_a_text_first_needs_it():
    """A process that renders only Latin text never parses the CJK face (22 MB); the first
    CJK character registers it, and the consent then draws it in that face."""
    script = (
        "import json\n"
        "from reportlab.pdfbase import pdfmetrics\n"
        "from bench.measure import demo_consent\n"
        "from intake.pdf import render_consent\n"
        "from intake.pdf.fonts import CJK\n"
        "from intake.pdf.text import pdf_text\n"
        "definition, submission = demo_consent()\n"
        "render_consent(definition, submission)\n"
        "before = CJK in pdfmetrics.getRegisteredFontNames()\n"
        "import io\n"
        "from pypdf import PdfReader\n"
        "from intake.definition import FormCatalog\n"
        "from intake.submission import validate_submission\n"
        "data = json.loads(open('intake/demo_submission.json', encoding='utf-8').read())\n"
        "data['health']['allergies'] = '青霉素'\n"
        "pdf = render_consent(definition, validate_submission(data, FormCatalog('forms')))\n"
        "fonts = {str(f.get_object()['/BaseFont']).split('+')[-1] for page in PdfReader("
        "io.BytesIO(pdf)).pages for f in page['/Resources']['/Font'].values()}\n"
        "drawn = any(name.startswith(CJK) for name in fonts)\n"
        "print(json.dumps([before, CJK in pdfmetrics.getRegisteredFontNames(), drawn]))\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True, text=True, check=True, timeout=120, cwd=PROJECT_ROOT,
    )  # fmt: skip
    assert json.loads(ran.stdout.strip().splitlines()[-1]) == [False, True, True]


def test_a_5000_character_answer_is_found_whole(demo_data, catalog):
    answer = " ".join(f"medication{n:04d}" for n in range(455))[:5000]
    assert len(answer) == 5000
    demo_data["health"]["medications"] = answer
    assert words(answer) in pdf_words(render(demo_data, catalog))


def test_long_answers_flow_onto_new_pages(demo_data, catalog):
    answer = "\n".join(f"Line {n:03d}: ibuprofen as needed, vitamin D, zinc." for n in range(180))
    demo_data["health"]["conditions"] = answer
    pdf = render(demo_data, catalog)
    short = render({**demo_data, "health": {**demo_data["health"], "conditions": "none"}}, catalog)
    assert len(PdfReader(io.BytesIO(pdf)).pages) > len(PdfReader(io.BytesIO(short)).pages)
    text = pdf_words(pdf)
    for n in (0, 90, 179):
        assert f"Line {n:03d}: ibuprofen as needed, vitamin D, zinc." in text


def test_each_typed_line_prints_on_its_own_line(demo_data, catalog):
    """Lines are their own paragraphs (a long answer splits across pages in linear time); an
    empty line still leaves a gap, and the lines come back in order."""
    demo_data["health"]["allergies"] = "Penicillin: hives\n\nLatex: rash\r\nShellfish"
    pdf = render(demo_data, catalog)
    lines = [
        line.strip()
        for page in PdfReader(io.BytesIO(pdf)).pages
        for line in page.extract_text(extraction_mode="layout").splitlines()
    ]
    first = lines.index("Penicillin: hives")
    assert lines[first + 1] == ""  # the empty line the patient typed
    assert lines[first + 2 : first + 4] == ["Latex: rash", "Shellfish"]


def test_guardian_block_for_a_minor(demo_data, catalog):
    pad = demo_data["signature"]
    demo_data["patient"]["date_of_birth"] = "2012-06-01"
    demo_data["guardian"] = {
        "name": "Ann O'Brien",
        "relationship": "mother",
        "signature": {"width": pad["width"], "height": pad["height"], "strokes": pad["strokes"]},
    }
    text = pdf_words(render(demo_data, catalog))
    assert "Parent or legal guardian signature" in text
    assert "Signed for Zoë O'Brien, a minor, as mother" in text
    assert "Guardian Ann O'Brien (mother) for a minor" in text
    assert "guardian: 5 strokes" in text


def test_adult_has_no_guardian_block(demo_text: str):
    assert "Parent or legal guardian signature" not in demo_text


def test_page_size_and_clinic_settings(demo_data, catalog):
    settings = RenderSettings(
        clinic_address="1 Main St, Springfield", clinic_phone="+1 555 010 9999", page_size="a4"
    )
    pdf = render(demo_data, catalog, settings=settings)
    page = PdfReader(io.BytesIO(pdf)).pages[0]
    assert (round(float(page.mediabox.width)), round(float(page.mediabox.height))) == (595, 842)
    assert "1 Main St, Springfield · +1 555 010 9999" in words(page.extract_text())


def test_letter_is_the_default(demo_pdf: bytes):
    page = PdfReader(io.BytesIO(demo_pdf)).pages[0]
    assert (round(float(page.mediabox.width)), round(float(page.mediabox.height))) == (612, 792)


def test_every_acknowledgment_is_ticked(demo_text: str, definition: ConsentDefinition):
    for ack in definition.acknowledgments:
        assert f"☑ {words(ack.text)}" in demo_text
    assert "☐" not in demo_text
