"""Post-processing with pikepdf: metadata without patient data, the submission as an attachment.

The file reportlab wrote is read and written anew (not appended to): its objects are renumbered,
so the trailer counts them right.
"""

from __future__ import annotations

import hashlib
import io
import re
from datetime import UTC, datetime
from functools import lru_cache

import pikepdf
from pikepdf.models.metadata import DateConverter

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
    submitted: bytes | None = None,
) -> bytes:
    """The consent as PDF/A-3b (pdfa.py): reportlab's metadata replaced, XMP saying the same,
    the document's language, the output intent, and the submission as associated data.
    `created` is when the file was made (now when None); `underlay` (page content,
    Flate-compressed) is drawn beneath every page from one stream they share; `submitted` the
    submission's canonical JSON when the caller has made it already."""
    if submitted is None:
        submitted = submission.canonical_json()
    return finish_pdfa(
        pdf,
        document_metadata(definition, document_id, created),
        creator=definition.clinic_name,
        document_id=document_id,
        language=DOCUMENT_LANGUAGE.get(definition.language, definition.language),
        attachment=(ATTACHMENT_NAME, submitted, ATTACHMENT_DESCRIPTION),
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
    resource) is the first content stream of every page, one stream they all share.

    The XMP is the one `write_xmp` makes, taken from `xmp_packet` (made once per form, creator
    and language, the document's id and date put in)."""
    name, data, description = attachment
    packet = xmp_packet(info, creator=creator, document_id=document_id, language=language)
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        if underlay is not None:
            shared = doc.make_stream(b"")
            shared.write(underlay, filter=pikepdf.Name.FlateDecode)
            for page in doc.pages:
                page.contents_add(shared, prepend=True)
        doc.docinfo = doc.make_indirect(pikepdf.Dictionary(info))
        doc.Root.Lang = pikepdf.String(language)
        if packet is None:
            write_xmp(doc, creator=creator, document_id=document_id, language=language)
        else:
            doc.Root.Metadata = doc.make_stream(packet)
            doc.Root.Metadata.Type = pikepdf.Name.Metadata
            doc.Root.Metadata.Subtype = pikepdf.Name.XML
        pdfa.add_output_intent(doc)
        pdfa.attach_data(doc, name, data, description=description, when=info["/CreationDate"])
        # The file identifier (ISO 32000 14.4): its first half the document id's, its second
        # qpdf's digest of the file written; so the same consent is the same bytes.
        doc.trailer.ID = pikepdf.Array([pikepdf.String(file_identifier(document_id))] * 2)
        out = io.BytesIO()
        # reportlab's streams are compressed already; qpdf recompressing them all would
        # double the cost of finishing. The XMP's pdf:PDFVersion (when it has one) is the
        # packet's already.
        doc.save(
            out,
            min_version=pdfa.PDF_VERSION,
            compress_streams=False,
            deterministic_id=True,
            fix_metadata_version=packet is None,
        )
    return out.getvalue()


def write_xmp(doc: pikepdf.Pdf, *, creator: str, document_id: str, language: str) -> None:
    """The document's XMP, from its document information, with the creator, the document id,
    the format, the language and the PDF/A claim."""
    with doc.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False) as xmp:
        xmp.load_from_docinfo(doc.docinfo, raise_failure=True)
        # The one creator, whatever punctuation the clinic's name has.
        xmp["dc:creator"] = [creator]
        xmp["dc:identifier"] = document_id
        xmp["dc:format"] = "application/pdf"
        xmp["dc:language"] = [language]
        pdfa.claim(xmp)


#: Stand-ins for a document's id and date in a kept XMP packet (`xmp_packet`).
_SOME_ID = "00000000-0000-4000-8000-00000000a11d"
_SOME_DATE = "D:19000101000000+00'00'"
_DATES = ("/CreationDate", "/ModDate")
_PLAIN_ID = re.compile(r"[0-9A-Fa-f-]{32,36}")


def xmp_packet(
    info: dict[str, str], *, creator: str, document_id: str, language: str
) -> bytes | None:
    """The XMP `write_xmp` makes (and qpdf writes) for `info`, without its cost: made once
    for the same form, creator and language with stand-ins for the document's id and date,
    which are then put in (an id of hex digits and a date need no XML escaping). None when
    the id or a date is not of that plain form, or a stand-in is in the other words: then
    `write_xmp` makes it."""
    dates = {info.get(key) for key in _DATES} - {None}
    if not _PLAIN_ID.fullmatch(document_id) or len(dates) != 1:
        return None
    (date,) = dates
    try:
        when = DateConverter.xmp_from_docinfo(date)
    except ValueError:
        return None
    general = tuple(
        sorted(
            (key, _SOME_DATE if key in _DATES else value.replace(document_id, _SOME_ID))
            for key, value in info.items()
        )
    )
    words = (creator, language, *(v for k, v in info.items() if k not in _DATES))
    if any(_SOME_ID in text or _SOME_XMP_DATE.decode() in text for text in words):
        return None
    packet = _packet(general, creator, language)
    return packet.replace(_SOME_XMP_DATE, when.encode()).replace(
        _SOME_ID.encode(), document_id.encode()
    )


_SOME_XMP_DATE = DateConverter.xmp_from_docinfo(_SOME_DATE).encode()


@lru_cache(maxsize=16)
def _packet(info: tuple[tuple[str, str], ...], creator: str, language: str) -> bytes:
    """`write_xmp`'s packet for `info` with the stand-ins, as qpdf writes it."""
    with pikepdf.new() as doc:
        doc.docinfo = doc.make_indirect(pikepdf.Dictionary(dict(info)))
        write_xmp(doc, creator=creator, document_id=_SOME_ID, language=language)
        out = io.BytesIO()
        doc.save(out, min_version=pdfa.PDF_VERSION, deterministic_id=True)
    with pikepdf.open(io.BytesIO(out.getvalue())) as written:
        return written.Root.Metadata.read_bytes()
