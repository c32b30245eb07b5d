"""The form's fixed text (its sections and side effects) on pages of its own, laid out once and
replayed (`intake/pdf/fixed_pages.py`): the same pages for every patient, never another form
text's, language's, page size's or clinic's; bounded; no patient words kept; and the faster
paths beside it (plain paragraphs, the kept XMP packet) writing what the slow ones write."""

from __future__ import annotations

import io
import json
import zlib
from datetime import UTC, datetime

import pikepdf
import pytest
from pypdf import PdfReader
from reportlab.platypus import Flowable, Paragraph

from intake.certificates import ClinicCertificate
from intake.config import PROJECT_ROOT
from intake.definition import FormCatalog
from intake.pdf import metadata, render_consent
from intake.pdf.fixed_pages import PAGES_KEPT, _lay_out
from intake.pdf.fonts import register_fonts
from intake.pdf.layout_cache import forget_layouts, form_layout
from intake.pdf.render import RenderSettings, _doc_options
from intake.pdf.styles import consent_styles
from intake.pdf.text import pdf_text, plain_paragraph
from intake.submission import validate_submission
from tests.support.app import B12, DEMO_DOCUMENT_ID, demo_submission
from tests.support.pdf import pdf_words

CREATED = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
FIRST_SECTION = "What is vitamin B12?"


def render(catalog: FormCatalog, data: dict, settings: RenderSettings | None = None) -> bytes:
    submission = validate_submission(data, catalog)
    definition = catalog.get(submission.form_id, submission.language)
    return render_consent(
        definition,
        submission,
        settings=settings or RenderSettings(),
        document_id=DEMO_DOCUMENT_ID,
        created=CREATED,
    )


def long_answers() -> dict:
    """A patient whose answers run well past the first page, with letters past ASCII."""
    data = demo_submission()
    data["patient"]["legal_name"] = data["signature"]["typed_name"] = "Łukasz Żółć"
    data["health"]["medications"] = "\n".join(f"Médicament {n}: 5 mg" for n in range(30))
    return data


def fixed_pages_of(pdf: bytes) -> list[tuple[int, bytes]]:
    """Each page from the one the consent text starts on up to the acknowledgments' heading
    (as the page content writes them): its index, and its content stream without the footer
    (drawn last)."""
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        # A preview's pages each begin with the mark's stream, then their own.
        streams = [
            (c[-1] if isinstance(c, pikepdf.Array) else c).read_bytes()
            for c in (page.obj.Contents for page in doc.pages)
        ]
    start = next(n for n, stream in enumerate(streams) if b"(What is vitamin B12?)" in stream)
    pages = []
    for n in range(start, len(streams)):
        if b"(Acknowledgments)" in streams[n]:
            break
        pages.append((n, streams[n].rsplit(b"BT", 1)[0]))
    return pages


def test_the_consent_text_starts_a_page_and_its_pages_are_the_same_for_every_patient(
    catalog: FormCatalog,
):
    forget_layouts()
    short, long = render(catalog, demo_submission()), render(catalog, long_answers())
    short_pages, long_pages = fixed_pages_of(short), fixed_pages_of(long)
    # The long answers push the consent text to a later page; its pages are the same.
    assert long_pages[0][0] > short_pages[0][0]
    assert len(short_pages) >= 2 and len(long_pages) == len(short_pages)
    assert [stream for _n, stream in short_pages] == [stream for _n, stream in long_pages]
    # It begins at the top of its page.
    for pdf, ((first, _stream), *_rest) in ((short, short_pages), (long, long_pages)):
        text = PdfReader(io.BytesIO(pdf)).pages[first].extract_text()
        assert text.lstrip().startswith(FIRST_SECTION)
    # And every word is still read back, the patient's own included.
    long_words = pdf_words(long)
    assert "Médicament 29: 5 mg" in long_words and "Łukasz Żółć" in long_words


def test_another_clinic_phone_address_or_page_size_never_gets_these_pages(catalog: FormCatalog):
    forget_layouts()
    sha = catalog.get(B12).sha256
    first = RenderSettings(clinic_phone="(217) 555-0101", clinic_address="1 Main St")
    cases = {
        "first": first,
        "phone": RenderSettings(clinic_phone="(217) 555-0199", clinic_address="1 Main St"),
        "address": RenderSettings(clinic_phone="(217) 555-0101", clinic_address="9 Oak Ave"),
        "a4": RenderSettings(
            clinic_phone="(217) 555-0101", clinic_address="1 Main St", page_size="a4"
        ),
    }
    pdfs = {name: render(catalog, demo_submission(), settings) for name, settings in cases.items()}
    assert len(set(pdfs.values())) == len(pdfs)
    letter = form_layout(sha, "en", "letter").fixed_pages
    # Kept by the clinic's settings (and the acknowledgments ticked: all, in every consent).
    assert {key[0] for key in letter} == {cases["first"], cases["phone"], cases["address"]}
    assert {key[0] for key in form_layout(sha, "en", "a4").fixed_pages} == {cases["a4"]}
    assert len({id(pages) for pages in letter.values()}) == 3
    text = {name: pdf_words(pdfs[name]) for name in ("phone", "address")}
    assert "555-0199" in text["phone"] and "555-0101" not in text["phone"]
    assert "9 Oak Ave" in text["address"] and "1 Main St" not in text["address"]
    assert "Call Skin Heaven Medical Spa: (217) 555-0101" in text["address"]
    # Rendered again after the others, each is the very file it was.
    for name, settings in cases.items():
        assert render(catalog, demo_submission(), settings) == pdfs[name]


def test_the_pages_kept_are_bounded_and_hold_no_patient_words(catalog: FormCatalog):
    forget_layouts()
    data = long_answers()
    data["health"]["allergies"] = "Penicillin-zyxwvut rash"
    phones = [f"(217) 555-01{n:02d}" for n in range(PAGES_KEPT + 2)]
    first = render(catalog, data, RenderSettings(clinic_phone=phones[0]))
    for phone in phones[1:]:
        render(catalog, data, RenderSettings(clinic_phone=phone))
    kept = form_layout(catalog.get(B12).sha256, "en", "letter").fixed_pages
    assert [key[0] for key in kept] == [
        RenderSettings(clinic_phone=p) for p in phones[-PAGES_KEPT:]
    ]
    held = repr(list(kept.values()))
    for word in ("zyxwvut", "Penicillin", "dicament", "ukasz"):
        assert word not in held
    assert "Call Skin Heaven Medical Spa" in held and "What is vitamin B12?" in held
    # Laid out again, the first clinic's pages are the same file.
    assert render(catalog, data, RenderSettings(clinic_phone=phones[0])) == first


class _Translucent(Flowable):
    """A drawing that needs a graphics state of its page's own (a fill alpha)."""

    def wrap(self, availWidth, availHeight):  # noqa: N803
        return 100, 20

    def draw(self):
        self.canv.setFillAlpha(0.5)
        self.canv.rect(0, 0, 100, 20, fill=1)


def test_pages_needing_resources_of_their_own_are_not_replayed():
    register_fonts()
    styles = consent_styles()
    options = _doc_options((612, 792))
    plain = _lay_out([Paragraph("Some words", styles["para"])], options)
    assert plain is not None and len(plain.pages) == 1
    assert _lay_out([Paragraph("Some words", styles["para"]), _Translucent()], options) is None


@pytest.mark.parametrize(
    "value",
    [
        "Zoë O'Brien",
        "  two   spaces\tand a tab  ",
        "—",
        "\u00a0",
        "a\u00a0b",
        "12 Elm St, Springfield",
        "x" * 300,
        "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15",
        "<b>bold</b> & more",
        "two\nlines",
        "王小明",
        "محمد",
        "",
        "   ",
    ],
)
def test_a_plain_paragraph_is_the_parsed_one(value: str):
    register_fonts()
    style = consent_styles()["row"]
    fast = plain_paragraph(value, style, "Legal name")
    parsed = Paragraph(pdf_text(value), style, bulletText="Legal name")
    assert fast.text == parsed.text
    assert fast.bulletText == parsed.bulletText and fast.style is parsed.style
    assert [vars(f) for f in fast.frags] == [vars(f) for f in parsed.frags]
    # Each has lists of its own: nothing one paragraph does reaches another.
    again = plain_paragraph(value, style, "Legal name")
    for one, other in zip(fast.frags, again.frags, strict=True):
        for name, attribute in vars(one).items():
            if isinstance(attribute, list):
                assert attribute is not getattr(other, name)


@pytest.mark.parametrize(
    "document_id", [DEMO_DOCUMENT_ID, "ABCDEF0123456789abcdef0123456789", "not-an-id <&>"]
)
def test_the_kept_xmp_packet_is_the_one_pikepdf_writes(document_id: str):
    catalog = FormCatalog(PROJECT_ROOT / "forms")
    definition = catalog.get(B12, "es")
    for created in (CREATED, datetime(2031, 3, 4, 5, 6, 7, tzinfo=UTC)):
        info = metadata.document_metadata(definition, document_id, created)
        kept = metadata.xmp_packet(
            info, creator=definition.clinic_name, document_id=document_id, language="es-US"
        )
        if document_id.startswith("not"):
            assert kept is None
            continue
        with pikepdf.new() as doc:
            doc.docinfo = doc.make_indirect(pikepdf.Dictionary(info))
            metadata.write_xmp(
                doc, creator=definition.clinic_name, document_id=document_id, language="es-US"
            )
            out = io.BytesIO()
            doc.save(out, min_version="1.7", deterministic_id=True)
        with pikepdf.open(io.BytesIO(out.getvalue())) as written:
            assert kept == written.Root.Metadata.read_bytes()
        assert document_id.encode() in kept and created.strftime("%Y-%m-%d").encode() in kept


def test_the_archives_demo_render_is_no_bigger_than_before():
    """The demo consent as the archive renders it (the seal named, no preview mark), with the
    benchmark's inputs: 61,165 bytes before its pages were replayed."""
    catalog = FormCatalog(PROJECT_ROOT / "forms")
    data = json.loads((PROJECT_ROOT / "intake" / "demo_submission.json").read_text("utf-8"))
    submission = validate_submission(data, catalog)
    seal = ClinicCertificate(
        subject="CN=Skin Heaven Medical Spa", sha256="ab" * 32, certificate=None
    )
    pdf = render_consent(
        catalog.get(submission.form_id),
        submission,
        document_id="0b7c1d2e-3f40-4a5b-8c6d-7e8f9a0b1c2d",
        seal=seal,
        created=CREATED,
    )
    assert len(pdf) <= 61_165
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        # Every page's content is one Flate stream, each a valid one.
        for page in doc.pages:
            assert isinstance(page.obj.Contents, pikepdf.Stream)
            assert zlib.decompress(page.obj.Contents.read_raw_bytes())
