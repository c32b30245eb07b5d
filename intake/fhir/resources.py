"""The archive's records as FHIR R4B resources (plain JSON-ready dicts).

Here: the codes and identifier systems, the Patient, Consent and DocumentReference; the forms'
text and answers are in `questionnaires.py`, signatures and seals in `signatures.py`, the
injections in `administration.py`. Each function takes what the archive holds (its rows, the
submission as signed, a form's definition) and returns one resource. Nothing here reads the
database or the disk, so the tests can validate each resource as the export writes it. Ids
are the archive's own (32 hex digits, a valid FHIR id); a resource points at another by a
relative reference (`Patient/<id>`), and at a sealed PDF by a URL relative to the export's
folder (`documents/<id>.pdf`).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from intake.languages import DOCUMENT_LANGUAGE

#: Where the export keeps the sealed PDFs, relative to its folder.
DOCUMENTS_FOLDER = "documents"

#: The systems of the archive's own identifiers, and of its codes.
ID_SYSTEM = "urn:intake:id:"
FORM_TEXT_SHA256 = "urn:intake:form-text-sha256"
ACKNOWLEDGMENT_SYSTEM = "urn:intake:acknowledgment"
RECORD_KIND_SYSTEM = "urn:intake:record-kind"
#: A sealed PDF's SHA-256 (base64, like `Attachment.hash`), beside the SHA-1 FHIR asks for.
SHA256_EXTENSION = "urn:intake:extension:attachment-sha256"
#: A form's canonical URL names the form (and language) only, not a server: `|version` follows.
CANONICAL_BASE = "urn:intake:questionnaire:"

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
V2_BODY_SITE = "http://terminology.hl7.org/CodeSystem/v2-0163"
YES_NO = "http://terminology.hl7.org/CodeSystem/v2-0136"
NULL_FLAVOR = "http://terminology.hl7.org/CodeSystem/v3-NullFlavor"
YES_NO_DONT_KNOW = "http://hl7.org/fhir/ValueSet/yesnodontknow"
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
SIGNATURE_TYPE = "urn:iso-astm:E1762-95:2013"
AGENT_TYPE = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"

#: Each course record's title, as its sealed PDF prints it.
RECORD_TITLES = {
    "visit": "Visit check-in",
    "injection": "Injection record",
    "withdrawal": "Withdrawal of consent",
}
#: LOINC's "Patient Consent" document.
CONSENT_DOCUMENT = {"system": LOINC, "code": "59284-0", "display": "Patient Consent"}
#: SNOMED's intramuscular route.
INTRAMUSCULAR = {"system": SNOMED, "code": "78421000", "display": "Intramuscular route"}

#: ASTM E1762 signature types (the FHIR `signature-type` codes) used here.
CONSENT_SIGNATURE = "1.2.840.10065.1.12.1.7", "Consent Signature"
WITNESS_SIGNATURE = "1.2.840.10065.1.12.1.11", "Consent Witness Signature"
AUTHOR_SIGNATURE = "1.2.840.10065.1.12.1.1", "Author's Signature"
SOURCE_SIGNATURE = "1.2.840.10065.1.12.1.14", "Source Signature"

NOT_ID = re.compile(r"[^A-Za-z0-9.-]")


def reference(resource_type: str, resource_id: str) -> dict[str, str]:
    return {"reference": f"{resource_type}/{resource_id}"}


def identifier(kind: str, value: str) -> dict[str, str]:
    """The archive's own id of a `kind` of thing (consent, record, staff, …) as an identifier."""
    return {"system": f"{ID_SYSTEM}{kind}", "value": value}


def staff_reference(kind: str, staff_id: str | None, name: str) -> dict[str, Any]:
    """A staff member (or the clinic) who is no resource of the export: named, and identified by
    the archive's id when there is one."""
    found: dict[str, Any] = {"display": name or "—"}
    if staff_id:
        found["identifier"] = identifier(kind, staff_id)
    return found


def instant(moment: datetime) -> str:
    """A FHIR instant or dateTime: to the second, with its offset."""
    return moment.isoformat(timespec="seconds")


def canonical_url(form_id: str, language: str) -> str:
    return f"{CANONICAL_BASE}{form_id}" + ("" if language == "en" else f".{language}")


def questionnaire_id(form_id: str, language: str, version: str) -> str:
    return NOT_ID.sub("-", f"{form_id}-{language}-{version}")[:64]


def document_url(document_id: str) -> str:
    return f"{DOCUMENTS_FOLDER}/{document_id}.pdf"


@dataclass(frozen=True)
class Pdf:
    """A sealed PDF as the export wrote it: its id (the record's), size and digests."""

    id: str
    size: int
    sha1: bytes
    sha256: bytes


def attachment(pdf: Pdf, title: str, language: str | None = None) -> dict[str, Any]:
    """The PDF as an Attachment: relative URL, size, SHA-1 (base64, as FHIR wants) and SHA-256
    in an extension."""
    found: dict[str, Any] = {
        "extension": [{"url": SHA256_EXTENSION, "valueBase64Binary": _b64(pdf.sha256)}],
        "contentType": "application/pdf",
        "url": document_url(pdf.id),
        "size": pdf.size,
        "hash": _b64(pdf.sha1),
        "title": title,
    }
    if language:
        found["language"] = DOCUMENT_LANGUAGE.get(language, language)
    return found


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


# --- Patient -------------------------------------------------------------------------------


def patient(
    patient_id: str,
    legal_name: str,
    date_of_birth: date | None,
    *,
    phone: str | None = None,
    email: str | None = None,
    address: str | None = None,
    language: str | None = None,
    emergency_contact: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A patient: the legal name as written (no split into given and family names, which the
    archive never asked for), birth date, contact details, language, emergency contact."""
    found: dict[str, Any] = {
        "resourceType": "Patient",
        "id": patient_id,
        "identifier": [identifier("patient", patient_id)],
        "name": [{"use": "official", "text": legal_name}],
    }
    telecom = [
        {"system": system, "value": value}
        for system, value in (("phone", phone), ("email", email))
        if value
    ]
    if telecom:
        found["telecom"] = telecom
    if date_of_birth is not None:
        found["birthDate"] = date_of_birth.isoformat()
    if address:
        found["address"] = [{"text": address}]
    contact = _contact(emergency_contact or {})
    if contact:
        found["contact"] = [contact]
    if language:
        code = DOCUMENT_LANGUAGE.get(language, language)
        found["communication"] = [
            {"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": code}]}}
        ]
    return found


def _contact(ec: Mapping[str, Any]) -> dict[str, Any]:
    name, phone, relationship = (plain_text(ec.get(k)) for k in ("name", "phone", "relationship"))
    if not (name or phone):
        return {}
    found: dict[str, Any] = {
        "relationship": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v2-0131",
                        "code": "C",
                        "display": "Emergency Contact",
                    }
                ],
                **({"text": relationship} if relationship else {}),
            }
        ]
    }
    if name:
        found["name"] = {"text": name}
    if phone:
        found["telecom"] = [{"system": "phone", "value": phone}]
    return found


# --- Consent and DocumentReference ---------------------------------------------------------

#: A consent's FHIR status: withdrawn is inactive; voided (taken by mistake, or forged) is
#: entered-in-error, the R4B code for a record that should never have been made.
ACTIVE, INACTIVE, ENTERED_IN_ERROR = "active", "inactive", "entered-in-error"


def consent_status(voided: bool, withdrawn: bool) -> str:
    return ENTERED_IN_ERROR if voided else INACTIVE if withdrawn else ACTIVE


def consent(
    consent_id: str,
    patient_id: str,
    *,
    status: str,
    signed_at: str,
    canonical: str,
    clinic_name: str,
    acknowledgments: list[tuple[str, str]],
    pdf: Pdf,
    language: str,
    title: str,
    withdrawn_on: date | None = None,
) -> dict[str, Any]:
    """A signed consent: who, when, the form text it is (the policy: the Questionnaire's
    canonical URL and version), a permit with a provision for each acknowledgment ticked
    (`(id, text)`), ended on the day of a withdrawal, and the sealed PDF as its source."""
    signed_day = signed_at[:10]
    period: dict[str, str] = {"start": signed_day}
    if withdrawn_on is not None:
        period["end"] = max(withdrawn_on.isoformat(), signed_day)
    return {
        "resourceType": "Consent",
        "id": consent_id,
        "identifier": [identifier("consent", consent_id)],
        "status": status,
        "scope": {
            "coding": [{"system": CONSENT_SCOPE, "code": "treatment", "display": "Treatment"}]
        },
        "category": [{"coding": [CONSENT_DOCUMENT]}],
        "patient": reference("Patient", patient_id),
        "dateTime": signed_at,
        "performer": [reference("Patient", patient_id)],
        "organization": [{"display": clinic_name or "—"}],
        "sourceAttachment": attachment(pdf, title, language),
        "policy": [{"uri": canonical}],
        "provision": {
            "type": "permit",
            "period": period,
            "provision": [
                {"type": "permit", "code": [_acknowledgment(ack_id, text)]}
                for ack_id, text in acknowledgments
            ],
        },
    }


def _acknowledgment(ack_id: str, text: str) -> dict[str, Any]:
    return {"coding": [{"system": ACKNOWLEDGMENT_SYSTEM, "code": ack_id}], "text": text or ack_id}


def document_reference(
    pdf: Pdf,
    patient_id: str,
    *,
    kind: str,
    created: datetime,
    title: str,
    status: str = "current",
    consent_id: str | None = None,
    language: str | None = None,
    replaces: str | None = None,
) -> dict[str, Any]:
    """A sealed PDF: a consent (`kind` "consent") or a course record (visit, injection,
    withdrawal), its patient, when it was sealed, and the consent a record relies on."""
    doc_type: dict[str, Any] = (
        {"coding": [CONSENT_DOCUMENT]}
        if kind == "consent"
        else {"coding": [{"system": RECORD_KIND_SYSTEM, "code": kind}], "text": title}
    )
    found: dict[str, Any] = {
        "resourceType": "DocumentReference",
        "id": pdf.id,
        "masterIdentifier": identifier("document", pdf.id),
        "status": status,
        "docStatus": "final",
        "type": doc_type,
        "subject": reference("Patient", patient_id),
        "date": instant(created),
        "content": [{"attachment": attachment(pdf, title, language)}],
    }
    if replaces:
        found["relatesTo"] = [
            {"code": "replaces", "target": reference("DocumentReference", replaces)}
        ]
    if consent_id:
        found["context"] = {"related": [reference("Consent", consent_id)]}
    return found


def plain_text(value: object) -> str:
    """A text answer, trimmed; "" for none (FHIR allows no empty string)."""
    return value.strip() if isinstance(value, str) else ""
