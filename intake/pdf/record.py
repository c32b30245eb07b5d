"""The one-page record of the treatment course (a visit's check-in, an injection, a withdrawal):
a title, labelled fields, an optional signature drawing, and in the footer of the page the
record's document id and the consent it relies on (document id and SHA-256). No Flask here.

Every kind is laid out by `render_record` from a `RecordPage` its owner builds from the record's
body, so the three kinds share one look and one way of naming the consent. The words on the page
are the caller's (the form's TOML, the page's data, and labels from the catalog in the record's
language, the patient's); the labels of the footer are this module's, from the same catalog.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from reportlab.lib import colors
from reportlab.lib.units import inch
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer

from intake.certificates import ClinicCertificate
from intake.languages import DEFAULT_LANGUAGE, DOCUMENT_LANGUAGE, LANGUAGES, N_, Words, words
from intake.pdf.fonts import BODY, register_fonts
from intake.pdf.metadata import PRODUCER, finish_pdfa
from intake.pdf.render import (
    MARGIN,
    PAGE_SIZES,
    RenderSettings,
    _NumberedCanvas,
)
from intake.pdf.signature import SignatureDrawing
from intake.pdf.styles import consent_styles
from intake.pdf.text import pdf_text
from intake.submission import SignaturePad

#: The record's body, attached to its PDF as this file (canonical JSON, as stored).
RECORD_ATTACHMENT = "record.json"
RECORD_ATTACHMENT_DESCRIPTION = "The record as signed, canonical JSON"


@dataclass(frozen=True)
class RecordField:
    """One labelled value of a record; `flagged` marks it for a clinician (shaded, like a
    flagged screening answer on the consent)."""

    label: str
    value: str
    flagged: bool = False


@dataclass(frozen=True)
class RecordPage:
    """What a record's page shows, in reading order. Built by the kind's owner from the record's
    body; `render_record` lays it out."""

    #: The kind of record ("visit", "injection", "withdrawal"): in the metadata and the seal.
    kind: str
    title: str
    clinic_name: str
    #: A line under the title (the form's words, e.g. the visit's intro).
    intro: str = ""
    #: A box above the fields when the record needs a clinician's eye.
    notice: str = ""
    fields: tuple[RecordField, ...] = ()
    #: A paragraph after the fields (e.g. the side-effects reminder shown at the check-in).
    note: str = ""
    #: The drawn signature, what signing meant, and who signed when (rows under the drawing).
    signature: SignaturePad | None = None
    signature_heading: str = ""
    signature_meaning: str = ""
    signature_rows: tuple[RecordField, ...] = ()
    #: Facts of the signing record: tablet, device, the body's SHA-256 (small print).
    record_rows: tuple[RecordField, ...] = field(default_factory=tuple)
    #: The language the page is written in (a code of `intake.languages.LANGUAGES`).
    language: str = "en"


@dataclass(frozen=True)
class ConsentReference:
    """The consent a record relies on: its document id and the SHA-256 of its sealed PDF."""

    document_id: str
    sha256: str


def record_language(consent_language: str | None) -> str:
    """The language of a course record: the patient's, the one their consent was signed in."""
    return consent_language if consent_language in LANGUAGES else DEFAULT_LANGUAGE


def form_words(_: Words, form: dict[str, Any]) -> str:
    """The form a record was made under, as its page names it ("b12-im, version 3")."""
    return _("%(form)s, version %(version)s", form=form["id"], version=form["version"])


def record_reason(kind: str, document_id: str) -> str:
    """The seal's reason field for a record: its kind and document id, no patient details (the
    document id ends it, as `parse_document_id` reads it)."""
    return f"Record {kind}, document {document_id}"


def _fields(rows: tuple[RecordField, ...], s: dict[str, Any], style: str = "row") -> list[Any]:
    return [
        Paragraph(
            pdf_text(row.value or "—"),
            s["flag-row" if row.flagged else style],
            bulletText=row.label,
        )
        for row in rows
    ]


def build_record_story(
    page: RecordPage,
    document_id: str,
    consent: ConsentReference,
    width: float,
    settings: RenderSettings,
    seal: ClinicCertificate | None,
) -> list[Any]:
    s = consent_styles()
    _ = words(page.language)
    story: list[Any] = [Paragraph(pdf_text(page.clinic_name), s["clinic"])]
    contact = " · ".join(v for v in (settings.clinic_address, settings.clinic_phone) if v)
    if contact:
        story.append(Paragraph(pdf_text(contact), s["small"]))
    story.append(Paragraph(pdf_text(page.title), s["title"]))
    story.append(Paragraph(pdf_text(_("Document %(id)s", id=document_id)), s["small"]))
    if page.intro:
        story += [Spacer(1, 4), Paragraph(pdf_text(page.intro), s["para"])]
    if page.notice:
        story.append(Paragraph(pdf_text(page.notice), s["flag-box"]))
    story += [Spacer(1, 4), *_fields(page.fields, s)]
    if page.note:
        story += [Spacer(1, 6), Paragraph(pdf_text(page.note), s["small"])]
    if page.signature is not None or page.signature_heading:
        # A clinician signs with their password: the heading, meaning and rows, no drawing.
        drawing = (
            [SignatureDrawing(page.signature, min(width, 3.2 * inch), 0.85 * inch)]
            if page.signature is not None
            else []
        )
        story.append(
            KeepTogether(
                [
                    Paragraph(pdf_text(page.signature_heading), s["h2"]),
                    Paragraph(pdf_text(page.signature_meaning), s["para"]),
                    *drawing,
                    Spacer(1, 4),
                    *_fields(page.signature_rows, s),
                ]
            )
        )
    rows = (
        RecordField(_("Document id"), document_id),
        RecordField(_("Relies on consent"), consent.document_id),
        RecordField(_("Consent PDF SHA-256"), consent.sha256),
        *page.record_rows,
        *(
            (
                RecordField(_("Sealed with"), seal.subject),
                RecordField(_("Certificate SHA-256"), seal.sha256),
            )
            if seal
            else ()
        ),
    )
    story += [Spacer(1, 6), *_fields(rows, s, style="record")]
    return story


class _RecordCanvas(_NumberedCanvas):
    """The consent's numbered canvas, with a second footer line naming the consent."""

    def __init__(self, *args: Any, consent: ConsentReference, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._consent = consent
        self._relies_on = self._words(
            N_("Relies on consent %(id)s · SHA-256 %(sha256)s"),
            id=consent.document_id,
            sha256=consent.sha256,
        )

    def showPage(self) -> None:  # noqa: N802 - reportlab's name
        width, _ = self._pagesize
        self.saveState()
        self.setFont(BODY, 7)
        self.setFillColor(colors.HexColor("#555555"))
        self.drawCentredString(
            width / 2,
            0.3 * inch,
            self._relies_on,
        )
        self.restoreState()
        super().showPage()


def render_record(
    page: RecordPage,
    body_json: bytes,
    *,
    document_id: str,
    consent: ConsentReference,
    settings: RenderSettings | None = None,
    seal: ClinicCertificate | None = None,
) -> bytes:
    """The record's PDF, as bytes: its page, metadata without patient data, and `body_json`
    attached as `record.json`. Without `seal` it is a preview: the page says so."""
    register_fonts()
    settings = settings or RenderSettings()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=PAGE_SIZES.get(settings.page_size, PAGE_SIZES["letter"]),
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=0.6 * inch,
        bottomMargin=0.8 * inch,
        # The font each page's content starts with, embedded (reportlab's Helvetica is not).
        initialFontName=BODY,
    )
    story = build_record_story(page, document_id, consent, doc.width, settings, seal)
    preview = seal is None

    def on_page(canvas: Canvas, _doc: Any) -> None:
        if preview:
            canvas.mark_preview()  # type: ignore[attr-defined]

    doc.build(
        story,
        onFirstPage=on_page,
        onLaterPages=on_page,
        canvasmaker=lambda *a, **kw: _RecordCanvas(
            *a,
            footer=words(page.language)(N_("Document %(id)s"), id=document_id),
            preview=preview,
            consent=consent,
            words=words(page.language),
            **kw,
        ),
    )
    return _finish(buffer.getvalue(), page, document_id, body_json)


def _finish(pdf: bytes, page: RecordPage, document_id: str, body_json: bytes) -> bytes:
    """The record as PDF/A-3b, like a consent: metadata of the kind and id only (never the
    patient), XMP saying the same, the document's language, the body as associated data."""
    now = datetime.now(UTC).strftime("D:%Y%m%d%H%M%S+00'00'")
    info = {
        "/Title": page.title,
        "/Author": page.clinic_name,
        "/Subject": f"{page.kind} record",
        "/Keywords": f"record; {page.kind}; {document_id}",
        "/Creator": PRODUCER,
        "/CreationDate": now,
        "/ModDate": now,
    }
    return finish_pdfa(
        pdf,
        info,
        creator=page.clinic_name,
        document_id=document_id,
        language=DOCUMENT_LANGUAGE.get(page.language, page.language),
        attachment=(RECORD_ATTACHMENT, body_json, RECORD_ATTACHMENT_DESCRIPTION),
    )
