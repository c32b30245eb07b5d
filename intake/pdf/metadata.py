"""pypdf post-processing: metadata without patient data, and the submission as an attachment."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

from pypdf import PdfReader, PdfWriter
from pypdf.errors import PyPdfError
from pypdf.generic import NameObject, TextStringObject
from pypdf.xmp import XmpInformation

from intake.definition import ConsentDefinition
from intake.languages import DOCUMENT_LANGUAGE
from intake.submission import Submission

ATTACHMENT_NAME = "submission.json"
PRODUCER = "intake consent engine"
#: The document id that ends both the seal's reason ("..., document <id>", `seal_reason`) and
#: the keywords ("...; <id>", `document_metadata`).
DOCUMENT_ID = re.compile(r"(?:document |; )([0-9A-Fa-f-]{32,36})$")


def parse_document_id(text: str) -> str | None:
    """The document id ending a seal's reason or a PDF's keywords, or None."""
    match = DOCUMENT_ID.search(text.strip())
    return match.group(1) if match else None


def keywords_document_id(pdf: bytes, password: str | None = None) -> str | None:
    """The document id in a PDF's keywords (opened with `password` if encrypted), or None."""
    try:
        reader = PdfReader(io.BytesIO(pdf))
        if reader.is_encrypted and password is not None:
            reader.decrypt(password)
        keywords = str((reader.metadata or {}).get("/Keywords", ""))
    except (PyPdfError, ValueError, OSError, RecursionError):
        return None
    return parse_document_id(keywords)


def document_metadata(definition: ConsentDefinition, document_id: str) -> dict[str, str]:
    """Document information: the form and the document id, never a patient's details."""
    now = datetime.now(UTC).strftime("D:%Y%m%d%H%M%S+00'00'")
    return {
        "/Title": definition.title,
        "/Author": definition.clinic_name,
        "/Subject": f"{definition.id} version {definition.version}",
        "/Keywords": f"consent; {definition.id}; version {definition.version}; {document_id}",
        "/Creator": PRODUCER,
        "/Producer": PRODUCER,
        "/CreationDate": now,
        "/ModDate": now,
    }


def _xmp(definition: ConsentDefinition, document_id: str) -> XmpInformation:
    xmp = XmpInformation.create()
    xmp.dc_title = {"x-default": definition.title}
    xmp.dc_creator = [definition.clinic_name]
    xmp.dc_description = {"x-default": f"{definition.id} version {definition.version}"}
    xmp.dc_identifier = document_id
    xmp.dc_format = "application/pdf"
    xmp.dc_language = [DOCUMENT_LANGUAGE.get(definition.language, definition.language)]
    xmp.pdf_producer = PRODUCER
    xmp.xmp_creator_tool = PRODUCER
    xmp.xmpmm_document_id = f"uuid:{document_id}"
    return xmp


def finish_pdf(
    pdf: bytes, definition: ConsentDefinition, submission: Submission, document_id: str
) -> bytes:
    """Replace reportlab's metadata, add XMP, and attach the canonical submission."""
    # Incremental: pypdf appends only the objects it adds or changes instead of rewriting all.
    writer = PdfWriter(PdfReader(io.BytesIO(pdf)), incremental=True)
    writer.metadata = None
    writer.add_metadata(document_metadata(definition, document_id))
    writer.xmp_metadata = _xmp(definition, document_id)
    # The document's language (ISO 32000 14.9.2), for screen readers and text extraction.
    tag = DOCUMENT_LANGUAGE.get(definition.language, definition.language)
    writer._root_object[NameObject("/Lang")] = TextStringObject(tag)
    writer.add_attachment(ATTACHMENT_NAME, submission.canonical_json())
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
