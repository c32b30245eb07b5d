"""Post-processing with pikepdf: metadata without patient data, the submission as an attachment.

The file reportlab wrote is read and written anew (not appended to): its objects are renumbered,
so the trailer counts them right.
"""

from __future__ import annotations

import hashlib
import io
import re
from datetime import UTC, datetime

import pikepdf

from intake.definition import ConsentDefinition
from intake.languages import DOCUMENT_LANGUAGE
from intake.pdf import pdfa
from intake.submission import Submission

ATTACHMENT_NAME = "submission.json"
ATTACHMENT_DESCRIPTION = "The submission as signed, canonical JSON"
PRODUCER = "intake consent engine"
#: The document id that ends both the seal's reason ("..., document <id>", `seal_reason`) and
#: the keywords ("...; <id>", `document_metadata`).
DOCUMENT_ID = re.compile(r"(?:document |; )([0-9A-Fa-f-]{32,36})$")


def parse_document_id(text: str) -> str | None:
    """The document id ending a seal's reason or a PDF's keywords, or None."""
    match = DOCUMENT_ID.search(text.strip())
    return match.group(1) if match else None


def keywords_document_id(pdf: bytes, password: str | None = None) -> str | None:
    """The document id in a PDF's keywords (opened with `password` if encrypted), or None.
    pypdf is imported here: checking a file needs it, making one does not (9 MB a worker)."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(pdf))
        if reader.is_encrypted and password is not None:
            reader.decrypt(password)
        keywords = str((reader.metadata or {}).get("/Keywords", ""))
    except (PyPdfError, ValueError, OSError, RecursionError):
        return None
    return parse_document_id(keywords)


def file_identifier(document_id: str) -> bytes:
    """The 16 bytes that begin a document's file identifier: a digest of its document id."""
    return hashlib.md5(document_id.encode(), usedforsecurity=False).digest()


def pdf_date(moment: datetime | None = None) -> str:
    """`moment` (now when None) as a PDF date in UTC: "D:20261201120000+00'00'"."""
    return (moment or datetime.now(UTC)).astimezone(UTC).strftime("D:%Y%m%d%H%M%S+00'00'")


def document_metadata(
    definition: ConsentDefinition, document_id: str, created: datetime | None = None
) -> dict[str, str]:
    """Document information: the form and the document id, never a patient's details.

    No /Producer: the seal's writer (pyHanko) names itself there and in the XMP alike, and an
    entry of ours would leave the two saying different things, which PDF/A forbids.
    """
    now = pdf_date(created)
    return {
        "/Title": definition.title,
        "/Author": definition.clinic_name,
        "/Subject": f"{definition.id} version {definition.version}",
        "/Keywords": f"consent; {definition.id}; version {definition.version}; {document_id}",
        "/Creator": PRODUCER,
        "/CreationDate": now,
        "/ModDate": now,
    }


def finish_pdf(
    pdf: bytes,
    definition: ConsentDefinition,
    submission: Submission,
    document_id: str,
    created: datetime | None = None,
    *,
    underlay: bytes | None = None,
) -> bytes:
    """The consent as PDF/A-3b (pdfa.py): reportlab's metadata replaced, XMP saying the same,
    the document's language, the output intent, and the submission as associated data.
    `created` is when the file was made (now when None); `underlay` (page content,
    Flate-compressed) is drawn beneath every page from one stream they share."""
    return finish_pdfa(
        pdf,
        document_metadata(definition, document_id, created),
        creator=definition.clinic_name,
        document_id=document_id,
        language=DOCUMENT_LANGUAGE.get(definition.language, definition.language),
        attachment=(ATTACHMENT_NAME, submission.canonical_json(), ATTACHMENT_DESCRIPTION),
        underlay=underlay,
    )


def finish_pdfa(
    pdf: bytes,
    info: dict[str, str],
    *,
    creator: str,
    document_id: str,
    language: str,
    attachment: tuple[str, bytes, str],
    underlay: bytes | None = None,
) -> bytes:
    """Any sealed document (a consent, a course record) as PDF/A-3b: document information
    `info`, XMP saying the same, `/Lang` (ISO 32000 14.9.2, for screen readers and text
    extraction), the sRGB output intent, and `attachment` (name, data, description) as the
    document's associated data; `underlay` (page content, Flate-compressed, naming no
    resource) is the first content stream of every page, one stream they all share."""
    name, data, description = attachment
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        if underlay is not None:
            shared = doc.make_stream(b"")
            shared.write(underlay, filter=pikepdf.Name.FlateDecode)
            for page in doc.pages:
                page.contents_add(shared, prepend=True)
        doc.docinfo = doc.make_indirect(pikepdf.Dictionary(info))
        doc.Root.Lang = pikepdf.String(language)
        with doc.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False) as xmp:
            xmp.load_from_docinfo(doc.docinfo, raise_failure=True)
            # The one creator, whatever punctuation the clinic's name has.
            xmp["dc:creator"] = [creator]
            xmp["dc:identifier"] = document_id
            xmp["dc:format"] = "application/pdf"
            xmp["dc:language"] = [language]
            pdfa.claim(xmp)
        pdfa.add_output_intent(doc)
        pdfa.attach_data(doc, name, data, description=description, when=info["/CreationDate"])
        # The file identifier (ISO 32000 14.4): its first half the document id's, its second
        # qpdf's digest of the file written; so the same consent is the same bytes.
        doc.trailer.ID = pikepdf.Array([pikepdf.String(file_identifier(document_id))] * 2)
        out = io.BytesIO()
        # reportlab's streams are compressed already; qpdf recompressing them all would
        # double the cost of finishing.
        doc.save(out, min_version=pdfa.PDF_VERSION, compress_streams=False, deterministic_id=True)
    return out.getvalue()
