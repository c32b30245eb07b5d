"""The requirements of ISO 19005-3 (PDF/A-3, conformance level B) that apply to a consent, each
checked on its own with pikepdf (and fontTools for the embedded font programs).

`REQUIREMENTS` maps a clause to its check; a check takes the opened file and its bytes and
returns what breaks it (nothing when it holds). The README lists the same clauses. This is not a
validator: veraPDF, which cannot be installed here, is the clinic's final proof.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

import pikepdf
from fontTools.ttLib import TTFont
from lxml import etree
from pikepdf.models.metadata import decode_pdf_date

Check = Callable[[pikepdf.Pdf, bytes], list[str]]

#: Namespaces of the XMP schemas ISO 19005 predefines (no extension schema needed for them).
PREDEFINED_XMP = {
    "http://purl.org/dc/elements/1.1/",
    "http://ns.adobe.com/xap/1.0/",
    "http://ns.adobe.com/xap/1.0/mm/",
    "http://ns.adobe.com/xap/1.0/rights/",
    "http://ns.adobe.com/pdf/1.3/",
    "http://ns.adobe.com/photoshop/1.0/",
    "http://www.aiim.org/pdfa/ns/id/",
}
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
FORBIDDEN_ACTIONS = {
    "/Launch",
    "/Sound",
    "/Movie",
    "/ResetForm",
    "/ImportData",
    "/Hide",
    "/SetOCGState",
    "/Rendition",
    "/Trans",
    "/GoTo3DView",
    "/JavaScript",
}
FORBIDDEN_ANNOTATIONS = {"/3D", "/Sound", "/Screen", "/Movie", "/RichMedia"}
#: Annotation flags: Invisible, Hidden, NoView (must be clear) and Print (must be set).
INVISIBLE, HIDDEN, PRINT, NO_VIEW, TOGGLE_NO_VIEW = 1, 2, 4, 32, 256
DEVICE_COLOUR = {
    "rg": "/DeviceRGB",
    "RG": "/DeviceRGB",
    "k": "/DeviceCMYK",
    "K": "/DeviceCMYK",
}


def dictionaries(pdf: pikepdf.Pdf) -> Iterator[pikepdf.Object]:
    """Every dictionary and stream of the file, each once."""
    for obj in pdf.objects:
        if isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
            yield obj


def _header(pdf: pikepdf.Pdf, raw: bytes) -> list[str]:
    """6.1.2: "%PDF-1.n" then a comment of at least four bytes each above 127."""
    match = re.match(rb"%PDF-1\.[0-7]\r?\n%([^\r\n]*)\r?\n", raw)
    if match is None:
        return ["the file does not start with %PDF-1.n and a comment line"]
    if sum(1 for byte in match.group(1)[:4] if byte > 127) < 4:
        return ["the comment after the header has fewer than four bytes above 127"]
    return []


def _trailer(pdf: pikepdf.Pdf, raw: bytes) -> list[str]:
    """6.1.3: an /ID in the trailer, no /Encrypt, nothing but an end of line after %%EOF."""
    problems = []
    if "/ID" not in pdf.trailer:
        problems.append("the trailer has no /ID")
    if "/Encrypt" in pdf.trailer or pdf.is_encrypted:
        problems.append("the file is encrypted")
    if not re.search(rb"%%EOF(\r\n|\r|\n)?$", raw):
        problems.append("bytes follow the last %%EOF")
    return problems


def _streams(pdf: pikepdf.Pdf, raw: bytes) -> list[str]:
    """6.1.7: no stream refers to an external file (/F, /FFilter, /FDecodeParms), none is
    LZW-compressed (6.1.7.2) or uses a Crypt filter other than Identity."""
    problems = []
    for obj in pdf.objects:
        if not isinstance(obj, pikepdf.Stream):
            continue
        for key in ("/F", "/FFilter", "/FDecodeParms"):
            if key in obj.stream_dict:
                problems.append(f"stream {obj.objgen} has {key}")
        filters = obj.stream_dict.get("/Filter")
        names = [filters] if isinstance(filters, pikepdf.Name) else list(filters or [])
        if pikepdf.Name.LZWDecode in names:
            problems.append(f"stream {obj.objgen} is LZW-compressed")
        if pikepdf.Name.Crypt in names:
            problems.append(f"stream {obj.objgen} uses a Crypt filter")
    return problems


def _output_intent(pdf: pikepdf.Pdf, raw: bytes) -> list[str]:
    """6.2.2 and 6.2.3: one PDF/A output intent, its ICC profile embedded, an RGB display or
    output profile of a version PDF 1.7 knows (at most 4.2), /N matching it."""
    intents = [i for i in pdf.Root.get("/OutputIntents", []) if i.get("/S") == "/GTS_PDFA1"]
    if not intents:
        return ["no output intent with /S /GTS_PDFA1"]
    profiles = {i.DestOutputProfile.objgen for i in intents if "/DestOutputProfile" in i}
    if len(profiles) != 1:
        return [f"{len(profiles)} distinct destination output profiles, not one"]
    (intent,) = intents[:1]
    profile = intent.DestOutputProfile
    icc = profile.read_bytes()
    problems = []
    if icc[36:40] != b"acsp":
        problems.append("the destination output profile is not an ICC profile")
    if (icc[8], icc[9] >> 4) > (4, 2):
        problems.append(f"ICC version {icc[8]}.{icc[9] >> 4} is newer than PDF 1.7 knows")
    if icc[12:16] not in (b"mntr", b"prtr"):
        problems.append(f"ICC device class {icc[12:16]!r} is neither mntr nor prtr")
    if icc[16:20] != b"RGB ":
        problems.append(f"ICC colour space {icc[16:20]!r}, not RGB (the pages paint in RGB)")
    if int(profile.get("/N", 0)) != 3:
        problems.append("the profile's /N is not 3")
    if "/OutputConditionIdentifier" not in intent:
        problems.append("the output intent has no /OutputConditionIdentifier")
    return problems


def _content_operators(pdf: pikepdf.Pdf) -> Iterator[tuple[str, list]]:
    for page in pdf.pages:
        for operands, operator in pikepdf.parse_content_stream(page):
            yield str(operator), operands
    for obj in pdf.objects:
        if isinstance(obj, pikepdf.Stream) and obj.stream_dict.get("/Subtype") == "/Form":
            for operands, operator in pikepdf.parse_content_stream(obj):
                yield str(operator), operands


def _device_colour(pdf: pikepdf.Pdf, raw: bytes) -> list[str]:
    """6.2.4.3: DeviceRGB only with an RGB output intent (there is one: `_output_intent`),
    DeviceCMYK never without a CMYK one; the same for colour spaces named in resources."""
    used = {DEVICE_COLOUR[op] for op, _ in _content_operators(pdf) if op in DEVICE_COLOUR}
    for obj in dictionaries(pdf):
        if obj.get("/ColorSpace") == "/DeviceCMYK":
            used.add("/DeviceCMYK")
    return ["DeviceCMYK is used with an RGB output intent"] if "/DeviceCMYK" in used else []


def _images_and_xobjects(pdf: pikepdf.Pdf, raw: bytes) -> list[str]:
    """6.2.5 and 6.2.8: no PostScript XObjects, no /OPI, no /Alternates, no image with
    /Interpolate true; 6.2.5: no reference XObjects (/Ref)."""
    problems = []
    for obj in pdf.objects:
        if not isinstance(obj, pikepdf.Stream):
            continue
        d = obj.stream_dict
        if d.get("/Subtype") == "/PS" or d.get("/Subtype2") == "/PS":
            problems.append(f"PostScript XObject {obj.objgen}")
        for key in ("/OPI", "/Alternates", "/Ref"):
            if key in d:
                problems.append(f"XObject {obj.objgen} has {key}")
        if d.get("/Subtype") == "/Image" and bool(d.get("/Interpolate", False)):
            problems.append(f"image {obj.objgen} has /Interpolate true")
    return problems


def _graphics_state(pdf: pikepdf.Pdf, raw: bytes) -> list[str]:
    """6.2.6 and 6.2.10: no transfer functions (/TR, /TR2 other than /Default), no halftone
    with /TransferFunction, standard blend modes only."""
    standard = {
        "/Normal",
        "/Compatible",
        "/Multiply",
        "/Screen",
        "/Overlay",
        "/Darken",
        "/Lighten",
        "/ColorDodge",
        "/ColorBurn",
        "/HardLight",
        "/SoftLight",
        "/Difference",
        "/Exclusion",
        "/Hue",
        "/Saturation",
        "/Color",
        "/Luminosity",
    }
    problems = []
    for obj in dictionaries(pdf):
        if obj.get("/Type") != "/ExtGState":
            continue
        if "/TR" in obj:
            problems.append(f"graphics state {obj.objgen} has /TR")
        if "/TR2" in obj and obj.TR2 != "/Default":
            problems.append(f"graphics state {obj.objgen} has /TR2")
        if "/HTP" in obj:
            problems.append(f"graphics state {obj.objgen} has /HTP")
        if "/BM" in obj and str(obj.BM) not in standard:
            problems.append(f"graphics state {obj.objgen} has blend mode {obj.BM}")
    return problems


def _fonts(pdf: pikepdf.Pdf) -> Iterator[pikepdf.Dictionary]:
    for obj in dictionaries(pdf):
        if obj.get("/Type") == "/Font":
            yield obj


def _fonts_embedded(pdf: pikepdf.Pdf, raw: bytes) -> list[str]:
    """6.2.11.4.1: every font program embedded (Type 3 aside), for a composite font its
    descendant's; 6.2.11.3.2: a CIDFontType2 has a /CIDToGIDMap."""
    problems = []
    for font in _fonts(pdf):
        subtype = font.get("/Subtype")
        if subtype == "/Type3":
            continue
        target = font.DescendantFonts[0] if subtype == "/Type0" else font
        if target.get("/Subtype") == "/CIDFontType2" and "/CIDToGIDMap" not in target:
            problems.append(f"{target.get('/BaseFont')}: a CIDFontType2 without /CIDToGIDMap")
        descriptor = target.get("/FontDescriptor")
        if descriptor is None or not any(
            key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3")
        ):
            problems.append(f"{font.get('/BaseFont')} ({subtype}) is not embedded")
    return problems


def _truetype_program(font: pikepdf.Dictionary) -> TTFont | None:
    descriptor = font.get("/FontDescriptor")
    if descriptor is None or "/FontFile2" not in descriptor:
        return None
    return TTFont(io.BytesIO(descriptor.FontFile2.read_bytes()))


def _truetype_encodings(pdf: pikepdf.Pdf, raw: bytes) -> list[str]:
    """6.2.11.6: a symbolic TrueType font has no /Encoding, and its cmap exactly one subtable
    or a (3,0) one; a non-symbolic one has MacRoman or WinAnsi as its encoding."""
    problems = []
    for font in _fonts(pdf):
        if font.get("/Subtype") != "/TrueType" or (program := _truetype_program(font)) is None:
            continue
        name = font.get("/BaseFont")
        symbolic = bool(int(font.FontDescriptor.Flags) & 4)
        tables = [(t.platformID, t.platEncID) for t in program["cmap"].tables]
        if symbolic:
            if "/Encoding" in font:
                problems.append(f"{name}: symbolic with an /Encoding")
            if len(tables) != 1 and (3, 0) not in tables:
                problems.append(f"{name}: symbolic, cmap subtables {tables}")
        elif font.get("/Encoding") not in ("/MacRomanEncoding", "/WinAnsiEncoding"):
            problems.append(f"{name}: non-symbolic without a standard encoding")
    return problems


def _font_widths(pdf: pikepdf.Pdf, raw: bytes) -> list[str]:
    """6.2.11.5: each glyph's width in /Widths is its advance in the embedded program."""
    problems = []
    for font in _fonts(pdf):
        if font.get("/Subtype") != "/TrueType" or (program := _truetype_program(font)) is None:
            continue
        scale = 1000 / program["head"].unitsPerEm
        cmap = program["cmap"].tables[0].cmap
        first = int(font.FirstChar)
        for offset, width in enumerate(font.Widths):
            glyph = cmap.get(first + offset)
            if glyph is None:
                continue
            advance = program["hmtx"][glyph][0] * scale
            if abs(advance - float(width)) > 1:
                problems.append(f"{font.BaseFont} code {first + offset}: {width} vs {advance}")
    return problems


def _annotations(pdf: pikepdf.Pdf, raw: bytes) -> list[str]:
    """6.3.1-6.3.3: no forbidden annotation type; each prints and is not hidden; each but a
    zero-area one (an invisible signature's widget) has an appearance of /N only."""
    problems = []
    for number, page in enumerate(pdf.pages, start=1):
        for annot in page.obj.get("/Annots", []):
            subtype = annot.get("/Subtype")
            if subtype in FORBIDDEN_ANNOTATIONS:
                problems.append(f"page {number}: a {subtype} annotation")
            flags = int(annot.get("/F", 0))
            if not flags & PRINT or flags & (INVISIBLE | HIDDEN | NO_VIEW | TOGGLE_NO_VIEW):
                problems.append(f"page {number}: {subtype} annotation flags {flags}")
            x0, y0, x1, y1 = (float(v) for v in annot.Rect)
            zero_area = x0 == x1 and y0 == y1
            if subtype != "/Popup" and not zero_area:
                if "/AP" not in annot:
                    problems.append(f"page {number}: {subtype} annotation without /AP")
                elif set(annot.AP.keys()) != {"/N"}:
                    problems.append(f"page {number}: appearance keys {set(annot.AP.keys())}")
    return problems


def _forms(pdf: pikepdf.Pdf, raw: bytes) -> list[str]:
    """6.4: no XFA, /NeedAppearances not true, no actions on widgets or fields."""
    problems = []
    form = pdf.Root.get("/AcroForm")
    if form is not None:
        if "/XFA" in form:
            problems.append("the form has /XFA")
        if bool(form.get("/NeedAppearances", False)):
            problems.append("the form has /NeedAppearances true")
        for field in form.get("/Fields", []):
            for key in ("/A", "/AA"):
                if key in field:
                    problems.append(f"field {field.get('/T')} has {key}")
    return problems


def _actions(pdf: pikepdf.Pdf, raw: bytes) -> list[str]:
    """6.5: no forbidden action, no /AA on the catalog or a page, no JavaScript name tree,
    no named action other than NextPage, PrevPage, FirstPage, LastPage."""
    problems = []
    for obj in dictionaries(pdf):
        if obj.get("/S") in FORBIDDEN_ACTIONS and obj.get("/Type", "/Action") == "/Action":
            problems.append(f"a {obj.S} action")
        if obj.get("/S") == "/Named" and obj.get("/N") not in (
            "/NextPage",
            "/PrevPage",
            "/FirstPage",
            "/LastPage",
        ):
            problems.append(f"named action {obj.get('/N')}")
    if "/AA" in pdf.Root:
        problems.append("the catalog has /AA")
    for number, page in enumerate(pdf.pages, start=1):
        if "/AA" in page.obj:
            problems.append(f"page {number} has /AA")
    names = pdf.Root.get("/Names")
    if names is not None and "/JavaScript" in names:
        problems.append("the catalog has a JavaScript name tree")
    return problems


def xmp_tree(pdf: pikepdf.Pdf) -> etree._Element:
    return etree.fromstring(pdf.Root.Metadata.read_bytes())


def _xmp_value(tree: etree._Element, ns: str, name: str) -> str | None:
    """A simple property's text, whether written as an element or as an attribute."""
    for description in tree.iter(f"{{{RDF}}}Description"):
        if (attribute := description.get(f"{{{ns}}}{name}")) is not None:
            return attribute
        element = description.find(f"{{{ns}}}{name}")
        if element is not None:
            items = element.findall(f".//{{{RDF}}}li")
            return items[0].text if items else element.text
    return None


def _metadata_stream(pdf: pikepdf.Pdf, raw: bytes) -> list[str]:
    """6.6.2.1: the catalog's /Metadata is an unfiltered XMP stream typed /Metadata /XML, its
    packet header without the bytes or encoding attributes; 6.6.3: only predefined schemas."""
    metadata = pdf.Root.get("/Metadata")
    if metadata is None:
        return ["the catalog has no /Metadata"]
    problems = []
    if metadata.get("/Type") != "/Metadata" or metadata.get("/Subtype") != "/XML":
        problems.append("the metadata stream is not /Type /Metadata /Subtype /XML")
    if "/Filter" in metadata.stream_dict:
        problems.append("the metadata stream is filtered")
    data = metadata.read_bytes()
    header = re.match(rb"<\?xpacket ([^?]*)\?>", data)
    if header is None:
        problems.append("no xpacket header")
    elif b"bytes=" in header.group(1) or b"encoding=" in header.group(1):
        problems.append("the xpacket header has bytes or encoding")
    tree = etree.fromstring(data)
    used = {
        etree.QName(node).namespace
        for description in tree.iter(f"{{{RDF}}}Description")
        for node in [*description, *(etree.QName(a) for a in description.attrib)]
        if not isinstance(node, etree._Comment)
    }
    unknown = {ns for ns in used if ns and ns not in PREDEFINED_XMP and ns != RDF}
    if unknown:
        problems.append(f"XMP schemas needing an extension schema: {sorted(unknown)}")
    return problems


def _identification(pdf: pikepdf.Pdf, raw: bytes) -> list[str]:
    """6.6.4: pdfaid:part 3 and pdfaid:conformance B in the XMP."""
    tree = xmp_tree(pdf)
    ns = "http://www.aiim.org/pdfa/ns/id/"
    part, conformance = _xmp_value(tree, ns, "part"), _xmp_value(tree, ns, "conformance")
    if (part, conformance) != ("3", "B"):
        return [f"pdfaid:part {part}, pdfaid:conformance {conformance}, not 3 and B"]
    return []


@dataclass(frozen=True)
class _Equivalent:
    info: str
    ns: str
    name: str
    date: bool = False


EQUIVALENTS = [
    _Equivalent("/Title", "http://purl.org/dc/elements/1.1/", "title"),
    _Equivalent("/Author", "http://purl.org/dc/elements/1.1/", "creator"),
    _Equivalent("/Subject", "http://purl.org/dc/elements/1.1/", "description"),
    _Equivalent("/Keywords", "http://ns.adobe.com/pdf/1.3/", "Keywords"),
    _Equivalent("/Creator", "http://ns.adobe.com/xap/1.0/", "CreatorTool"),
    _Equivalent("/Producer", "http://ns.adobe.com/pdf/1.3/", "Producer"),
    _Equivalent("/CreationDate", "http://ns.adobe.com/xap/1.0/", "CreateDate", date=True),
    _Equivalent("/ModDate", "http://ns.adobe.com/xap/1.0/", "ModifyDate", date=True),
]


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _info_matches_xmp(pdf: pikepdf.Pdf, raw: bytes) -> list[str]:
    """6.6.2.3: each document information entry has its XMP equivalent, saying the same."""
    tree = xmp_tree(pdf)
    problems = []
    for entry in EQUIVALENTS:
        value = pdf.docinfo.get(entry.info)
        xmp = _xmp_value(tree, entry.ns, entry.name)
        if value is None:
            continue
        if xmp is None:
            problems.append(f"{entry.info} has no XMP equivalent")
        elif entry.date:
            if decode_pdf_date(str(value)) != _moment(xmp):
                problems.append(f"{entry.info} {value} vs XMP {xmp}")
        elif str(value) != xmp:
            problems.append(f"{entry.info} {str(value)!r} vs XMP {xmp!r}")
    return problems


def _embedded_files(pdf: pikepdf.Pdf, raw: bytes) -> list[str]:
    """6.8: each embedded file's specification has /F, /UF and /AFRelationship and is in an
    /AF array; its stream a MIME /Subtype and /Params with a /ModDate."""
    problems = []
    associated = {spec.objgen for spec in pdf.Root.get("/AF", [])}
    for page in pdf.pages:
        associated |= {spec.objgen for spec in page.obj.get("/AF", [])}
    for name, attached in pdf.attachments.items():
        spec = attached.obj
        for key in ("/F", "/UF", "/AFRelationship"):
            if key not in spec:
                problems.append(f"{name}: the file specification has no {key}")
        if spec.objgen not in associated:
            problems.append(f"{name}: in no /AF array")
        stream = spec.EF.F
        subtype = str(stream.stream_dict.get("/Subtype", ""))
        if not re.fullmatch(r"/[a-z]+/[a-z0-9.+-]+", subtype):
            problems.append(f"{name}: MIME type {subtype!r}")
        if "/ModDate" not in stream.stream_dict.get("/Params", {}):
            problems.append(f"{name}: no /Params /ModDate")
    return problems


def _optional_content_and_presentations(pdf: pikepdf.Pdf, raw: bytes) -> list[str]:
    """6.9 and 6.10: optional content configurations named, no alternate presentations, no
    /PresSteps."""
    problems = []
    properties = pdf.Root.get("/OCProperties")
    if properties is not None:
        for config in [properties.get("/D"), *properties.get("/Configs", [])]:
            if config is not None and "/Name" not in config:
                problems.append("an optional content configuration without /Name")
    names = pdf.Root.get("/Names")
    if names is not None and "/AlternatePresentations" in names:
        problems.append("alternate presentations")
    for number, page in enumerate(pdf.pages, start=1):
        if "/PresSteps" in page.obj:
            problems.append(f"page {number} has /PresSteps")
    return problems


def _permissions(pdf: pikepdf.Pdf, raw: bytes) -> list[str]:
    """6.1.12: /Perms names only /DocMDP and /UR3."""
    perms = pdf.Root.get("/Perms")
    extra = set(perms.keys()) - {"/DocMDP", "/UR3"} if perms is not None else set()
    return [f"/Perms has {sorted(extra)}"] if extra else []


#: Clause of ISO 19005-3 -> what it asks and its check.
REQUIREMENTS: dict[str, Check] = {
    "6.1.2 file header": _header,
    "6.1.3 file trailer": _trailer,
    "6.1.7 streams": _streams,
    "6.1.12 permissions": _permissions,
    "6.2.2 output intent": _output_intent,
    "6.2.4.3 device colour": _device_colour,
    "6.2.5/6.2.8 XObjects and images": _images_and_xobjects,
    "6.2.6/6.2.10 graphics state": _graphics_state,
    "6.2.11.4 fonts embedded": _fonts_embedded,
    "6.2.11.5 font widths": _font_widths,
    "6.2.11.6 TrueType encodings": _truetype_encodings,
    "6.3 annotations": _annotations,
    "6.4 interactive forms": _forms,
    "6.5 actions": _actions,
    "6.6.2.1 metadata stream": _metadata_stream,
    "6.6.2.3 document information matches XMP": _info_matches_xmp,
    "6.6.4 PDF/A identification": _identification,
    "6.8 embedded files": _embedded_files,
    "6.9/6.10 optional content, presentations": _optional_content_and_presentations,
}


def problems(pdf: bytes, clause: str) -> list[str]:
    """What breaks `clause` in the file."""
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        return REQUIREMENTS[clause](doc, pdf)
