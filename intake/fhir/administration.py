"""An injection as a FHIR MedicationAdministration: product and lot, dose, route, body site
(SNOMED CT and HL7 v2 table 0163), who gave it and when."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from intake.fhir.resources import (
    INTRAMUSCULAR,
    SNOMED,
    UCUM,
    V2_BODY_SITE,
    identifier,
    instant,
    reference,
    staff_reference,
)

#: Each injection site (`course_models.SITES` × `SIDES`): its SNOMED CT body structure and its
#: HL7 v2 table 0163 code. SNOMED has no concept for one side's gluteus medius: the gluteal
#: site carries the muscle's concept, and its side in the v2 code and the text.
BODY_SITES: dict[tuple[str, str], tuple[tuple[str, str], tuple[str, str]]] = {
    ("deltoid", "left"): (
        ("16217701000119102", "Structure of left deltoid muscle"),
        ("LD", "Left Deltoid"),
    ),
    ("deltoid", "right"): (
        ("16217661000119109", "Structure of right deltoid muscle"),
        ("RD", "Right Deltoid"),
    ),
    ("vastus-lateralis", "left"): (
        ("1217007000", "Structure of left vastus lateralis muscle"),
        ("LVL", "Left Vastus Lateralis"),
    ),
    ("vastus-lateralis", "right"): (
        ("1217006009", "Structure of right vastus lateralis muscle"),
        ("RVL", "Right Vastus Lateralis"),
    ),
    ("gluteal", "left"): (("78333006", "Gluteus medius muscle"), ("LG", "Left Gluteus Medius")),
    ("gluteal", "right"): (("78333006", "Gluteus medius muscle"), ("RG", "Right Gluteus Medius")),
}


def medication_administration(
    injection_id: str,
    patient_id: str,
    consent_id: str,
    *,
    given_at: datetime,
    status: str,
    product: str,
    strength: str,
    lot_number: str,
    lot_expires: date,
    dose_mg: float,
    site: str,
    side: str,
    clinician_id: str,
    clinician_name: str,
    notes: str | None,
    record_id: str | None,
) -> dict[str, Any]:
    """One injection: the product and its lot (a contained Medication), the dose, route (IM),
    body site, who gave it and when; `status` is entered-in-error for a record a correction
    superseded."""
    (snomed, snomed_name), (v2, v2_name) = BODY_SITES[(site, side)]
    found: dict[str, Any] = {
        "resourceType": "MedicationAdministration",
        "id": injection_id,
        "identifier": [identifier("injection", injection_id)],
        "contained": [
            {
                "resourceType": "Medication",
                "id": "lot",
                "code": {"text": f"{product} {strength}".strip()},
                "batch": {"lotNumber": lot_number, "expirationDate": lot_expires.isoformat()},
            }
        ],
        "status": status,
        "medicationReference": {"reference": "#lot"},
        "subject": reference("Patient", patient_id),
        "supportingInformation": [reference("Consent", consent_id)],
        "effectiveDateTime": instant(given_at),
        "performer": [{"actor": staff_reference("staff", clinician_id, clinician_name)}],
        "dosage": {
            "site": {
                "coding": [
                    {"system": SNOMED, "code": snomed, "display": snomed_name},
                    {"system": V2_BODY_SITE, "code": v2, "display": v2_name},
                ],
                "text": v2_name,
            },
            "route": {"coding": [INTRAMUSCULAR]},
            "dose": {"value": dose_mg, "unit": "mg", "system": UCUM, "code": "mg"},
        },
    }
    if notes and notes.strip():
        found["note"] = [{"text": notes.strip()}]
    if record_id:
        found["supportingInformation"].append(reference("DocumentReference", record_id))
    return found
