"""PDF/A-3b (ISO 19005-3, conformance level B): what makes a consent an archival PDF.

`finish_pdf` (metadata.py) puts these into every consent before it is sealed; the seal is then
an incremental update, which PDF/A-3 allows, and keeps every one of them:

- an output intent for sRGB with its ICC profile embedded (reportlab paints in DeviceRGB, which
  PDF/A allows only with an RGB output intent). The profile is `sRGB.icc` of Debian's
  icc-profiles-free (zlib licence, `icc/LICENSE-icc-profiles-free.txt`), ICC version 2.3;
- the claim in XMP: `pdfaid:part` 3, `pdfaid:conformance` B, beside the document information;
- `submission.json` as an associated file of the document: /AF on the catalog, /AFRelationship
  /Data, its MIME type and dates.

Fonts are all embedded (fonts.py); no encryption, JavaScript, actions or transparency are
written. An encrypted copy (the patient's) cannot be PDF/A: `without_claim` takes the claim out.
"""

from __future__ import annotations

import io
import zlib
from functools import cache
from pathlib import Path

import pikepdf

SRGB_PROFILE = Path(__file__).parent / "icc" / "sRGB.icc"
#: The output condition's name, as the ICC registry spells it.
OUTPUT_CONDITION = "sRGB IEC61966-2.1"
PART = "3"
CONFORMANCE = "B"
#: PDF/A-3 is based on PDF 1.7; associated files (/AF) are of that part.
PDF_VERSION = "1.7"
JSON_MIME = "application/json"


@cache
def _profile() -> bytes:
    """The sRGB profile, Flate-compressed (at the highest level: it is done once)."""
    return zlib.compress(SRGB_PROFILE.read_bytes(), 9)


def add_output_intent(doc: pikepdf.Pdf) -> None:
    """The catalog's one output intent: sRGB, the profile embedded."""
    profile = doc.make_stream(_profile(), N=3, Filter=pikepdf.Name.FlateDecode)
    intent = pikepdf.Dictionary(
        Type=pikepdf.Name.OutputIntent,
        S=pikepdf.Name.GTS_PDFA1,
        OutputConditionIdentifier=OUTPUT_CONDITION,
        Info=OUTPUT_CONDITION,
        RegistryName="http://www.color.org",
        DestOutputProfile=profile,
    )
    doc.Root.OutputIntents = pikepdf.Array([doc.make_indirect(intent)])


def claim(xmp: pikepdf.models.PdfMetadata) -> None:
    """Say in the XMP that the file is PDF/A-3b."""
    xmp["pdfaid:part"] = PART
    xmp["pdfaid:conformance"] = CONFORMANCE


def attach_data(doc: pikepdf.Pdf, name: str, data: bytes, *, description: str, when: str) -> None:
    """`data` (JSON) embedded as `name` and associated with the whole document as its data
    (/AF, /AFRelationship /Data), created and last changed `when` (a PDF date)."""
    spec = pikepdf.AttachedFileSpec(
        doc,
        data,
        description=description,
        filename=name,
        mime_type=JSON_MIME,
        creation_date=when,
        mod_date=when,
        relationship=pikepdf.Name.Data,
    )
    stream = spec.obj.EF.F
    stream.write(zlib.compress(data), filter=pikepdf.Name.FlateDecode)
    doc.attachments[name] = spec
    doc.Root.AF = pikepdf.Array([doc.attachments[name].obj])


def without_claim(pdf: bytes) -> bytes:
    """The PDF with its PDF/A claim taken out of the XMP: for a copy about to be encrypted,
    which PDF/A forbids."""
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        with doc.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False) as xmp:
            for key in ("pdfaid:part", "pdfaid:conformance"):
                if key in xmp:
                    del xmp[key]
        out = io.BytesIO()
        doc.save(out, fix_metadata_version=False)
    return out.getvalue()


#: What a writer that appends validation data or a timestamp updates in the description.
UPDATED_ON_APPEND = {"/ModDate", "/Producer"}
UPDATED_ON_APPEND_XMP = {
    "{http://ns.adobe.com/xap/1.0/}ModifyDate",
    "{http://ns.adobe.com/xap/1.0/}MetadataDate",
    "{http://ns.adobe.com/pdf/1.3/}Producer",
}


def _description(pdf: bytes, password: str) -> tuple[dict[str, str], dict[str, str]]:
    with pikepdf.open(io.BytesIO(pdf), password=password) as doc:
        info = {k: str(v) for k, v in doc.docinfo.items() if k not in UPDATED_ON_APPEND}
        xmp = {
            k: str(v)
            for k, v in doc.open_metadata(set_pikepdf_as_editor=False).items()
            if k not in UPDATED_ON_APPEND_XMP
        }
    return info, xmp


def same_description(before: bytes, after: bytes, password: str | None = None) -> bool:
    """Whether two revisions say the same of the document (information and XMP), but for the
    dates and producer that appending validation data or a timestamp updates."""
    try:
        return _description(before, password or "") == _description(after, password or "")
    except (pikepdf.PdfError, ValueError):
        return False
