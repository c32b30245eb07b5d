"""The demo consent as HTML and CSS, rendered by WeasyPrint: the usual alternative to Platypus.

A fair copy of what `intake.pdf.render_consent` lays out, built the way a web team would do it:
the same text in the same order (clinic, title, purpose, the flag box, the answers as
two-column table rows, the screening questions, every section, list and side-effect tier, the
acknowledgments), the same fonts (DejaVu Sans from `intake/pdf/fonts`, embedded as subsets), the
same page size and margins, the signature as an inline SVG of the same Catmull-Rom curves, the
clinician's blank lines, "Page X of Y · <document id>" in every footer, the Signing record on a
page of its own, the document information, and `submission.json` attached. The HTML is built per
call (as a template would be); the stylesheet and the font configuration are parsed once and
reused, which is WeasyPrint's fastest documented way to render many documents.

Bench-only: WeasyPrint is the `bench` extra (`pip install -e '.[bench]'`), with pango from Debian.
"""

from __future__ import annotations

from html import escape
from typing import Any

from intake.definition import ConsentDefinition
from intake.pdf.fonts import FONT_DIR
from intake.pdf.metadata import ATTACHMENT_NAME
from intake.pdf.render import patient_rows, signed_time, strokes_summary
from intake.pdf.signature import catmull_rom
from intake.submission import SignaturePad, Submission

LEVEL_WORDS = {"stop": "STOP", "caution": "CAUTION"}

CSS_TEXT = f"""
@font-face {{ font-family: "DejaVu Sans"; font-weight: normal;
  src: url("file://{FONT_DIR / "DejaVuSans.ttf"}"); }}
@font-face {{ font-family: "DejaVu Sans"; font-weight: bold;
  src: url("file://{FONT_DIR / "DejaVuSans-Bold.ttf"}"); }}
@page {{
  size: letter; margin: 0.7in 0.75in 0.8in 0.75in;
  @bottom-center {{ content: "Page " counter(page) " of " counter(pages) " · " string(docid);
    font: 7.5pt "DejaVu Sans"; color: #555; vertical-align: top; padding-top: 0.1in;
    white-space: nowrap; }}
}}
html {{ font: 9.5pt/13pt "DejaVu Sans"; color: black; }}
body {{ margin: 0; }}
.docid {{ string-set: docid content(); }}
p {{ margin: 0 0 4pt 0; }}
.clinic {{ font-weight: bold; font-size: 13pt; line-height: 15.6pt; color: #0b5394; }}
.small {{ font-size: 8pt; line-height: 10.5pt; }}
h1 {{ font-size: 15pt; line-height: 19pt; margin: 6pt 0 4pt 0; }}
h2 {{ font-size: 11.5pt; line-height: 15pt; margin: 10pt 0 3pt 0; color: #0b5394;
  break-after: avoid; }}
h2.mild {{ color: #6a6a6a; }} h2.serious {{ color: #b45f06; }} h2.severe {{ color: #a61c00; }}
.flag-box {{ font-weight: bold; color: #8a1c00; background: #fde9d9; border: 1pt solid #8a1c00;
  padding: 5pt; margin: 8pt 0; }}
table.rows {{ border-collapse: collapse; width: 100%; }}
table.rows th {{ width: 1.75in; text-align: left; vertical-align: top; font-size: 8.5pt;
  padding: 1.5pt 0; }}
table.rows td {{ vertical-align: top; padding: 1.5pt 0; white-space: pre-wrap; }}
table.rows tr.flag td, table.rows tr.flag th {{ background: #fde9d9; color: #8a1c00; }}
table.record {{ font-size: 8.5pt; line-height: 11.5pt; }}
.label {{ font-weight: bold; font-size: 8.5pt; line-height: 11pt; margin: 0; }}
.answer {{ margin: 0 0 6pt 8pt; white-space: pre-wrap; }}
ul, ol {{ margin: 0 0 4pt 0; padding-left: 16pt; }}
li {{ margin-bottom: 1.5pt; }}
ul.acks {{ list-style: none; padding-left: 16pt; }}
ul.acks li {{ margin-bottom: 4pt; text-indent: -16pt; }}
.keep {{ break-inside: avoid; }}
svg.signature {{ display: block; width: 4.2in; height: 1.3in; }}
table.blanks {{ width: 100%; border-collapse: separate; border-spacing: 0.28in 0;
  margin-left: -0.28in; }}
table.blanks td {{ height: 0.45in; border-bottom: 0.5pt solid black; }}
table.blanks th {{ font-weight: normal; font-size: 8pt; text-align: left; }}
.record-page {{ break-before: page; }}
"""


def _e(text: str) -> str:
    return escape(text, quote=True)


def _rows(rows: list[tuple[str, str]], cls: str = "rows") -> str:
    cells = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v or '—')}</td></tr>" for k, v in rows)
    return f'<table class="{cls}">{cells}</table>'


def signature_svg(pad: SignaturePad) -> str:
    """The strokes as SVG paths: Catmull-Rom splines as cubic Béziers, as the PDF draws them."""
    paths = []
    for stroke in pad.strokes:
        d = [f"M{stroke[0][0]:.1f} {stroke[0][1]:.1f}"]
        if len(stroke) == 1:
            d.append(f"L{stroke[0][0] + 0.01:.2f} {stroke[0][1]:.1f}")
        elif len(stroke) == 2:
            d.append(f"L{stroke[1][0]:.1f} {stroke[1][1]:.1f}")
        else:
            d += [
                f"C{c1[0]:.1f} {c1[1]:.1f} {c2[0]:.1f} {c2[1]:.1f} {end[0]:.1f} {end[1]:.1f}"
                for c1, c2, end in catmull_rom(stroke)
            ]
        paths.append(f'<path d="{" ".join(d)}"/>')
    return (
        f'<svg class="signature" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {pad.width:g} {pad.height:g}" preserveAspectRatio="xMidYMid meet">'
        f'<g fill="none" stroke="#0b2a5b" stroke-width="2.2" '
        f'stroke-linecap="round" stroke-linejoin="round">{"".join(paths)}</g>'
        f'<line x1="0" y1="{pad.height - 2:g}" x2="{pad.width:g}" y2="{pad.height - 2:g}" '
        'stroke="grey" stroke-width="0.5"/></svg>'
    )


def consent_html(definition: ConsentDefinition, submission: Submission, document_id: str) -> str:
    """The whole consent as one HTML document."""
    patient = submission.patient
    out: list[str] = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{_e(definition.title)}</title>",
        f"<meta name='author' content='{_e(definition.clinic_name)}'>",
        f"<meta name='description' content='{_e(definition.id)} version {definition.version}'>",
        "<meta name='generator' content='intake'></head><body>",
        f"<p class='clinic'>{_e(definition.clinic_name)}</p>",
        f"<h1>{_e(definition.title)}</h1>",
        f"<p class='small'>Form {_e(definition.id)}, version {_e(definition.version)} · "
        f"Document <span class='docid'>{_e(document_id)}</span></p>",
        f"<p style='margin-top:6pt'>{_e(definition.purpose)}</p>",
    ]
    flags = submission.flags(definition)
    if flags:
        out.append(
            f"<p class='flag-box'>Clinician review required: {len(flags)} screening answer(s) "
            "below.</p>"
        )
    out += [
        "<h2>Patient details</h2>",
        _rows([(label, str(value)) for label, value in patient_rows(patient)]),
        "<h2>Health history</h2>",
    ]
    for label, value in (
        ("Allergies", submission.health.allergies),
        ("Medications and supplements", submission.health.medications),
        ("Conditions", submission.health.conditions),
    ):
        out.append(f"<p class='label'>{_e(label)}</p><p class='answer'>{_e(value or '—')}</p>")
    out.append("<h2>Screening questions</h2><table class='rows'>")
    answers = dict(submission.screening)
    for q in definition.screening:
        if answers.get(q.id):
            out.append(
                f"<tr class='flag'><th>Yes</th><td>{_e(q.question)}\nClinician review required "
                f"({LEVEL_WORDS[q.level]})</td></tr>"
            )
        else:
            out.append(f"<tr><th>No</th><td>{_e(q.question)}</td></tr>")
    out.append("</table>")
    for section in definition.sections:
        out.append(f"<h2>{_e(section.heading)}</h2>")
        out += [f"<p>{_e(text)}</p>" for text in section.paragraphs]
        if section.items:
            tag = "ol" if section.numbered else "ul"
            out.append(f"<{tag}>" + "".join(f"<li>{_e(i)}</li>" for i in section.items))
            out.append(f"</{tag}>")
    for tier in definition.side_effects:
        out += [
            f"<h2 class='{tier.tier}'>{_e(tier.heading)}</h2>",
            f"<p>{_e(tier.intro)}</p>",
            "<ul>" + "".join(f"<li>{_e(i)}</li>" for i in tier.items) + "</ul>",
            f"<p><b>What to do:</b> {_e(tier.action)}</p>",
        ]
    ticked = set(submission.acknowledgments)
    out.append("<h2>Acknowledgments</h2><ul class='acks'>")
    for ack in definition.acknowledgments:
        box = "☑" if ack.id in ticked else "☐"
        out.append(f"<li>{box}&#8194;&#8194;{_e(ack.text)}</li>")
    out.append("</ul>")

    signed = signed_time(submission.signed_at)
    out.append(
        "<div class='keep'><h2>Patient signature</h2>"
        f"<p>{_e(definition.signature.meaning)}</p>{signature_svg(submission.signature)}"
        + _rows([("Printed name", submission.typed_name), ("Signed", signed)])
        + "</div>"
    )
    guardian = submission.guardian
    if guardian is not None:
        out.append(
            "<div class='keep'><h2>Parent or legal guardian signature</h2>"
            f"<p>{_e(definition.signature.guardian_meaning)}</p>"
            f"{signature_svg(guardian.signature)}"
            + _rows(
                [
                    ("Printed name", guardian.name),
                    ("Signed for", f"{patient.legal_name}, a minor, as {guardian.relationship}"),
                    ("Signed", signed),
                ]
            )
            + "</div>"
        )
    out.append(
        "<div class='keep'><h2>Clinician</h2>"
        f"<p>{_e(definition.signature.clinician_line)}</p>"
        "<table class='blanks'><tr><td style='width:38%'></td><td style='width:38%'></td>"
        "<td></td></tr><tr><th>Clinician name</th><th>Signature</th><th>Date</th></tr></table>"
        "</div>"
    )
    strokes = strokes_summary(submission)
    device = submission.device
    out += [
        "<div class='record-page'><h1>Signing record</h1>",
        "<p>How and when this consent was signed, and the fingerprints that identify exactly "
        "which text was shown and what was submitted.</p>",
        _rows(
            [
                ("Document id", document_id),
                ("Signed at", signed),
                ("Signed by", submission.typed_name),
                (
                    "Guardian",
                    f"{guardian.name} ({guardian.relationship}) for a minor" if guardian else "",
                ),
                ("Device", device.user_agent),
                ("IP address", device.ip),
                ("Form", f"{definition.id}, version {definition.version}"),
                ("Form text SHA-256", definition.sha256),
                ("Submission SHA-256", submission.sha256),
                ("Signature strokes", strokes),
                ("Submitted data", f"attached to this PDF as {ATTACHMENT_NAME}"),
            ],
            cls="rows record",
        ),
        "</div></body></html>",
    ]
    return "".join(out)


class HtmlRenderer:
    """WeasyPrint with its stylesheet and fonts prepared once, as a server would keep them."""

    def __init__(self) -> None:
        from weasyprint import CSS
        from weasyprint.text.fonts import FontConfiguration

        self.font_config = FontConfiguration()
        self.css = CSS(string=CSS_TEXT, font_config=self.font_config)

    def render(
        self, definition: ConsentDefinition, submission: Submission, document_id: str
    ) -> bytes:
        from weasyprint import HTML, Attachment

        html = HTML(string=consent_html(definition, submission, document_id))
        attachment = Attachment(string=submission.canonical_json(), name=ATTACHMENT_NAME)
        pdf: Any = html.write_pdf(
            stylesheets=[self.css], font_config=self.font_config, attachments=[attachment]
        )
        return pdf
