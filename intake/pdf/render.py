"""Lay out a consent PDF with reportlab Platypus: the consent text, the answers, the signature."""

from __future__ import annotations

import hashlib
import io
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from babel.dates import format_datetime
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import inch
from reportlab.platypus import (
    CondPageBreak,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from intake.certificates import ClinicCertificate
from intake.definition import ConsentDefinition
from intake.languages import (
    DEFAULT_LANGUAGE,
    DOCUMENT_LANGUAGE,
    N_,
    Words,
    date_of_birth_shown,
    language_name,
    words,
)
from intake.pdf.fixed_pages import ReplayedPage, fixed_pages
from intake.pdf.fonts import BODY, register_fonts
from intake.pdf.kept_table import KeptDrawing, KeptTable
from intake.pdf.layout_cache import FormLayout, form_layout
from intake.pdf.metadata import finish_pdf
from intake.pdf.numbered import PREVIEW_MARK, _NumberedCanvas, preview_underlay
from intake.pdf.signature import SignatureDrawing
from intake.pdf.text import PlainParagraph, pdf_template, pdf_text, plain_paragraph
from intake.pdf.together import Run, Together
from intake.submission import NOT_SURE, Patient, SignaturePad, Submission

PAGE_SIZES = {"letter": LETTER, "a4": A4}
MARGIN = 0.75 * inch

LEVEL_WORDS = {"stop": N_("STOP"), "caution": N_("CAUTION")}
#: The most lines of an answer drawn as one flowable (`Run`).
RUN_MOST = 12


@dataclass(frozen=True)
class RenderSettings:
    """Clinic settings that appear on the PDF but are not part of the consent text."""

    clinic_address: str = ""
    clinic_phone: str = ""
    #: "letter" or "a4".
    page_size: str = "letter"


@dataclass(frozen=True)
class _Template:
    """A line of the app's own words with patient values in it, each isolated (`pdf_template`)."""

    template: str
    values: dict[str, str]

    def markup(self) -> str:
        return pdf_template(self.template, **self.values)

    def __str__(self) -> str:
        """The line as plain text, the values in place."""
        return self.template.format(**self.values)


def patient_rows(
    patient: Patient, language: str = DEFAULT_LANGUAGE
) -> list[tuple[str, str | _Template]]:
    """The "Patient details" rows: each label with its value, in `language`."""
    _ = words(language)
    ec = patient.emergency_contact
    return [
        (_("Legal name"), patient.legal_name),
        (_("Preferred name"), patient.preferred_name),
        (_("Date of birth"), date_of_birth_shown(patient.date_of_birth, language)),
        (_("Phone"), patient.phone),
        (_("Email"), patient.email),
        (_("Address"), patient.address),
        (
            _("Emergency contact"),
            _Template(
                "{name} ({relationship}) · {phone}",
                {"name": ec.name, "relationship": ec.relationship, "phone": ec.phone},
            ),
        ),
        (_("Primary physician"), patient.primary_physician),
    ]


def _p(text: str | _Template, style: ParagraphStyle, bullet: str | None = None) -> Paragraph:
    """A paragraph of plain text: escaped, never markup."""
    if isinstance(text, _Template):
        return PlainParagraph(text.markup(), style, bulletText=bullet)
    return plain_paragraph(text, style, bullet)


def _heading(text: str, layout: FormLayout, style: str = "h2") -> list[Any]:
    """A heading that never ends a page: it moves on with what follows when space is short."""
    return [CondPageBreak(1.1 * inch), layout.paragraph(text, style)]


def _label_value(label: str, value: str, layout: FormLayout) -> list[Any]:
    """A label over its value; free text wraps and flows onto later pages.

    Each line the patient typed is a paragraph of its own (an empty line keeps its height):
    reportlab wraps a paragraph again from its start each time it splits one across a page,
    so one paragraph of many pages would cost time with the square of its length; lines keep
    it linear.
    """
    s = layout.styles
    lines = (value or "—").replace("\r\n", "\n").split("\n")
    pieces = [
        layout.paragraph(label, "label"),
        *(_p(line or "\u00a0", s["answer-line"]) for line in lines[:-1]),
        _p(lines[-1] or "\u00a0", s["answer"]),
    ]
    # A long answer flows line by line: a page ending in it would wrap its lines twice.
    return [Run(pieces)] if len(pieces) <= RUN_MOST else pieces


def _rows(
    rows: list[tuple[str, str | _Template]], s: dict[str, ParagraphStyle], style: str = "row"
) -> list[Run]:
    """Each label with its value, one paragraph a row, drawn as one flowable while they fit."""
    return [Run([_p(value or "—", s[style], bullet=label) for label, value in rows])]


def _items(items: tuple[str, ...], layout: FormLayout, numbered: bool = False):
    return [
        layout.paragraph(item, "item", bullet=f"{n}." if numbered else "•")
        for n, item in enumerate(items, start=1)
    ]


def signed_time(moment: datetime, language: str = DEFAULT_LANGUAGE) -> str:
    """When the patient signed, for people (in `language`) and exactly: "29 November 2026,
    10:15:00 (UTC-05:00) · 2026-11-29T10:15:00-05:00"."""
    offset = moment.strftime("%z")
    offset = f"UTC{offset[:3]}:{offset[3:]}" if offset else "UTC"
    # The date's pattern (CLDR) is the catalog's: each language writes a date its own way.
    pattern = words(language)(N_("d MMMM y, HH:mm:ss"))
    return f"{format_datetime(moment, pattern, locale=language)} ({offset}) · {moment.isoformat()}"


def _signature_block(
    heading: str,
    pad: SignaturePad | str,
    rows: list[tuple[str, str | _Template]],
    meaning: str,
    width: float,
    layout: FormLayout,
) -> KeepTogether:
    """A signature with what it means: the drawing, or (a str) the name typed as signature."""
    s = layout.styles
    if isinstance(pad, str):
        signature: Any = _p(pad, s["typed-signature"])
    else:
        signature = SignatureDrawing(pad, min(width, 4.2 * inch), 1.3 * inch)
    return Together(
        [
            layout.paragraph(heading, "h2"),
            layout.paragraph(meaning, "para"),
            signature,
            Spacer(1, 4),
            *_rows(rows, s),
        ]
    )


def signing_method(submission: Submission, _: Words) -> str:
    """How the patient signed, for the signing record."""
    witness = submission.witness
    if witness is not None:
        return _(
            "signed by typed name, witnessed by %(name)s (staff account %(staff_id)s)",
            name=witness.name,
            staff_id=witness.staff_id,
        )
    return _("drawn on the tablet's signature pad")


def strokes_summary(submission: Submission, language: str = DEFAULT_LANGUAGE) -> str:
    """The signing record's count of what was drawn: "patient: 3 strokes, 120 points"."""
    _ = words(language)
    pad, guardian = submission.signature, submission.guardian
    if pad is None:
        summary = _("patient: none (signed by typed name)")
    else:
        summary = _(
            "patient: %(strokes)s strokes, %(points)s points",
            strokes=len(pad.strokes),
            points=pad.point_count,
        )
    if guardian:
        summary += _(
            "; guardian: %(strokes)s strokes, %(points)s points",
            strokes=len(guardian.signature.strokes),
            points=guardian.signature.point_count,
        )
    return summary


def _clinician_block(line: str, width: float, layout: FormLayout, _: Words) -> KeepTogether:
    names = (_("Clinician name"), "", _("Signature"), "", _("Date"))
    labels = [layout.paragraph(label, "small") for label in names]
    kept = layout.tables.get((names, width))
    if kept is None:
        fonts = tuple(font for label in labels for font in label._laid.fonts)  # noqa: SLF001
        kept = layout.tables.setdefault((names, width), KeptDrawing(((BODY, ()), *fonts)))

    def blanks() -> Table:
        gap = width * 0.04
        table = Table(
            [[""] * 5, labels],
            colWidths=[width * 0.38, gap, width * 0.38, gap, width * 0.2 - 2 * gap],
            rowHeights=[0.45 * inch, None],
        )
        table.setStyle(
            TableStyle(
                [
                    *[("LINEBELOW", (col, 0), (col, 0), 0.5, colors.black) for col in (0, 2, 4)],
                    ("LEFTPADDING", (0, 0), (-1, -1), 0),
                    # The empty cells' font, else reportlab's Helvetica (not embedded).
                    ("FONTNAME", (0, 0), (-1, -1), BODY),
                ]
            )
        )
        return table

    return Together(
        [
            layout.paragraph(_("Clinician"), "h2"),
            layout.paragraph(line, "para"),
            KeptTable(kept, blanks),
        ]
    )


def _form_text(
    definition: ConsentDefinition,
    settings: RenderSettings,
    layout: FormLayout,
    ticked: frozenset[str],
) -> list[Any]:
    """The consent text, the side effects and the acknowledgments (`ticked`: the ids ticked,
    every one in a submission that validated): the form's words and the clinic's phone only,
    the same for every patient."""
    s, fixed, _ = layout.styles, layout.paragraph, words(definition.language)
    story: list[Any] = []
    for section in definition.sections:
        story += _heading(section.heading, layout)
        story += [fixed(text, "para") for text in section.paragraphs]
        story += _items(section.items, layout, numbered=section.numbered)

    for tier in definition.side_effects:
        story += _heading(tier.heading, layout, tier.tier)
        if tier.headline:
            story.append(fixed(tier.headline, "headline"))
        story += [
            fixed(tier.intro, "para"),
            *_items(tier.items, layout),
            fixed(
                f"<b>{pdf_text(_('What to do:'))}</b> {pdf_text(tier.action)}", "para", markup=True
            ),
        ]
        if tier.contact_clinic and settings.clinic_phone:
            call = _Template(
                _("Call {clinic}: {phone}"),
                {"clinic": definition.clinic_name, "phone": settings.clinic_phone},
            )
            story.append(_p(call, s["clinic-phone"]))

    story += _heading(_("Acknowledgments"), layout)
    for ack in definition.acknowledgments:
        story.append(fixed(ack.text, "ack", bullet="☑" if ack.id in ticked else "☐"))
    return story


def _fixed_text(
    definition: ConsentDefinition,
    settings: RenderSettings,
    layout: FormLayout,
    ticked: frozenset[str],
) -> list[Any]:
    """`_form_text`, starting on a page of its own: its pages laid out once per form text,
    language, page size, clinic settings and acknowledgments ticked, and replayed
    (`fixed_pages.py`), or laid out here when they cannot be."""
    pagesize = PAGE_SIZES.get(settings.page_size, LETTER)
    pages = fixed_pages(
        layout,
        (settings, ticked),
        lambda: _form_text(definition, settings, layout, ticked),
        _doc_options(pagesize),
    )
    if pages is None:
        return [PageBreak(), *_form_text(definition, settings, layout, ticked)]
    return pages.flowables()


def build_story(
    definition: ConsentDefinition,
    submission: Submission,
    settings: RenderSettings,
    document_id: str,
    width: float,
    seal: ClinicCertificate | None = None,
    tablet: str = "",
    submission_sha256: str | None = None,
) -> list[Any]:
    """Every flowable of the consent, in reading order. `tablet` is the name of the enrolled
    tablet it was taken on (the archive's record; empty: none); `submission_sha256` the
    submission's hash when the caller has it (else computed here)."""
    language = definition.language
    layout = form_layout(definition.sha256, language, settings.page_size)
    s, fixed = layout.styles, layout.paragraph
    _ = words(language)
    patient = submission.patient
    header: list[Any] = [fixed(definition.clinic_name, "clinic")]
    contact = " · ".join(v for v in (settings.clinic_address, settings.clinic_phone) if v)
    if contact:
        header.append(_p(contact, s["small"]))
    header += [
        fixed(definition.title, "title"),
        _p(
            _(
                "Form %(form)s, version %(version)s · Document %(document)s",
                form=definition.id,
                version=definition.version,
                document=document_id,
            ),
            s["small"],
        ),
        Spacer(1, 6),
        fixed(definition.purpose, "para"),
    ]

    flags = submission.flags(definition)
    if flags:
        header.append(
            _p(
                _(
                    "Clinician review required: %(count)s screening answer(s) below.",
                    count=len(flags),
                ),
                s["flag-box"],
            )
        )

    # The page's head, drawn as one flowable while it fits.
    story: list[Any] = [Run(header)]

    story += [
        *_heading(_("Patient details"), layout),
        *_rows(patient_rows(patient, language), s),
        *_heading(_("Health history"), layout),
        *_label_value(_("Allergies"), submission.health.allergies, layout),
        *_label_value(_("Medications and supplements"), submission.health.medications, layout),
        *_label_value(_("Conditions"), submission.health.conditions, layout),
        *_heading(_("Screening questions"), layout),
    ]
    answers = dict(submission.screening)
    questions: list[Any] = []
    for q in definition.screening:
        if answers.get(q.id) == NOT_SURE:
            level = _(LEVEL_WORDS[q.level])
            text = f"{q.question}\n" + _(
                "The patient is not sure: clinician review required (%(level)s); "
                "ask before injecting",
                level=level,
            )
            questions.append(fixed(text, "flag-row", bullet=_("Not sure")))
        elif answers.get(q.id):
            level = _(LEVEL_WORDS[q.level])
            text = f"{q.question}\n" + _("Clinician review required (%(level)s)", level=level)
            questions.append(fixed(text, "flag-row", bullet=_("Yes")))
        else:
            questions.append(fixed(q.question, "row", bullet=_("No")))
    if questions:
        story.append(Run(questions))

    story += _fixed_text(definition, settings, layout, frozenset(submission.acknowledgments))

    signed = signed_time(submission.signed_at, language)
    signer_rows = [(_("Printed name"), submission.typed_name), (_("Signed"), signed)]
    if submission.witness is not None:
        signer_rows.append((_("Signature"), signing_method(submission, _)))
    story.append(
        _signature_block(
            _("Patient signature"),
            submission.signature or submission.typed_name,
            signer_rows,
            definition.signature.meaning,
            width,
            layout,
        )
    )
    guardian = submission.guardian
    if guardian is not None:
        story.append(
            _signature_block(
                _("Parent or legal guardian signature"),
                guardian.signature,
                [
                    (_("Printed name"), guardian.name),
                    (
                        _("Signed for"),
                        _Template(
                            _("{patient}, a minor, as {relationship}"),
                            {"patient": patient.legal_name, "relationship": guardian.relationship},
                        ),
                    ),
                    (_("Signed"), signed),
                ],
                definition.signature.guardian_meaning,
                width,
                layout,
            )
        )
    story.append(_clinician_block(definition.signature.clinician_line, width, layout, _))

    device = submission.device
    strokes = strokes_summary(submission, language)
    story += [
        PageBreak(),
        fixed(_("Signing record"), "title"),
        fixed(
            _(
                "How and when this consent was signed, and the fingerprints that identify "
                "exactly which text was shown and what was submitted."
            ),
            "para",
        ),
        *_rows(
            [
                (_("Document id"), document_id),
                (_("Signed at"), signed),
                (_("Signed by"), submission.typed_name),
                *([(_("Signature"), signing_method(submission, _))] if submission.witness else []),
                (
                    _("Guardian"),
                    _Template(
                        _("{name} ({relationship}) for a minor"),
                        {"name": guardian.name, "relationship": guardian.relationship},
                    )
                    if guardian
                    else "",
                ),
                (_("Tablet"), tablet),
                (_("Device"), device.user_agent),
                (_("IP address"), device.ip),
                (
                    _("Form"),
                    _(
                        "%(form)s, version %(version)s",
                        form=definition.id,
                        version=definition.version,
                    ),
                ),
                (_("Language"), f"{language_name(language)} ({DOCUMENT_LANGUAGE[language]})"),
                (_("Form text SHA-256"), definition.sha256),
                (_("Submission SHA-256"), submission_sha256 or submission.sha256),
                (_("Signature strokes"), strokes),
                (_("Submitted data"), _("attached to this PDF as submission.json")),
                *(
                    [(_("Sealed with"), seal.subject), (_("Certificate SHA-256"), seal.sha256)]
                    if seal
                    else []
                ),
            ],
            s,
            style="record",
        ),
    ]
    return story


def _doc_options(pagesize: tuple[float, float]) -> dict[str, Any]:
    """The consent's page: its size, its margins, the font its content starts with."""
    return {
        "pagesize": pagesize,
        "leftMargin": MARGIN,
        "rightMargin": MARGIN,
        "topMargin": 0.7 * inch,
        "bottomMargin": 0.8 * inch,
        # reportlab's default, Helvetica, would be named (not embedded) in every page's
        # resources, which PDF/A forbids.
        "initialFontName": BODY,
    }


def render_consent(
    definition: ConsentDefinition,
    submission: Submission,
    *,
    settings: RenderSettings | None = None,
    document_id: str | None = None,
    seal: ClinicCertificate | None = None,
    tablet: str = "",
    created: datetime | None = None,
) -> bytes:
    """The consent PDF for one submission, as bytes, with metadata and `submission.json`.

    `seal` is the certificate the PDF will be sealed with, named on the Signing record page;
    `tablet` the name of the enrolled tablet that took it, on the same page.
    Without it the PDF is a preview: every page says so (`PREVIEW_MARK`).
    `created` is the file's creation date in its metadata (now when None): the same input
    and the same `created` give the same bytes.
    """
    register_fonts()
    settings = settings or RenderSettings()
    document_id = document_id or str(uuid.uuid4())
    pagesize = PAGE_SIZES.get(settings.page_size, LETTER)
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        title=definition.title,
        author=definition.clinic_name,
        subject=f"{definition.id} version {definition.version}",
        creator="intake",
        **_doc_options(pagesize),
    )
    # The submission's canonical JSON, made once: hashed on the Signing record page and
    # attached as submission.json.
    submitted = submission.canonical_json()
    story = build_story(
        definition,
        submission,
        settings,
        document_id,
        doc.width,
        seal,
        tablet,
        submission_sha256=hashlib.sha256(submitted).hexdigest(),
    )
    preview = seal is None
    replayed = next((f.source for f in story if isinstance(f, ReplayedPage)), None)

    def canvasmaker(*args: Any, **kwargs: Any) -> _NumberedCanvas:
        canvas = _NumberedCanvas(
            *args, footer=document_id, preview=preview, words=words(definition.language), **kwargs
        )
        if replayed is not None:
            replayed.prelude(canvas)
        return canvas

    doc.build(story, canvasmaker=canvasmaker)
    underlay = preview_underlay(words(definition.language)(PREVIEW_MARK), pagesize)
    return finish_pdf(
        buffer.getvalue(),
        definition,
        submission,
        document_id,
        created,
        underlay=underlay if preview else None,
        submitted=submitted,
    )
