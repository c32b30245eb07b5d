"""What an injection record seals, and its one page: the patient, the visit and the consent it
relies on, the lot, dose, volume, route and site, the time, the observation afterwards, and the
clinician who signed it with their password (and second factor). No Flask here.

The record is its own sealed PDF, not an incremental revision of the visit's: the visit's PDF
is the patient's signed check-in, sealed and certified once, and a revision appended to it would
change that file's bytes (and its SHA-256, which the archive and the exports hold) every time a
clinician records or corrects an injection. Its own PDF keeps each signed document whole, and
names the visit and the consent it relies on (document id and SHA-256).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from intake.archive.course_models import INJECTION, Injection, Lot, Patient, Record, Visit
from intake.archive.models import Consent
from intake.definition import ConsentDefinition
from intake.pdf.record import RecordField, RecordPage

#: How a site and a side read on the record.
SITE_WORDS = {"deltoid": "deltoid", "gluteal": "gluteal", "vastus-lateralis": "vastus lateralis"}


def site_words(site: str, side: str) -> str:
    return f"{side} {SITE_WORDS.get(site, site)}"


def number_text(value: float) -> str:
    """A dose or volume as typed: 1.0 → "1", 0.25 → "0.25"."""
    return f"{value:.3f}".rstrip("0").rstrip(".")


def injection_body(
    injection: Injection,
    patient: Patient,
    visit: Visit,
    consent: Consent,
    lot: Lot,
    definition: ConsentDefinition,
    *,
    second_factor: bool,
    signed_at: datetime,
) -> dict[str, Any]:
    """The sealed body: everything the page shows, as data (numbers as text, so the canonical
    JSON never depends on how a float prints)."""
    return {
        "injection_id": injection.id,
        "patient": {
            "id": patient.id,
            "legal_name": patient.legal_name,
            "date_of_birth": patient.date_of_birth.isoformat() if patient.date_of_birth else None,
        },
        "visit": {"id": visit.id, "record_id": visit.record_id},
        "consent": {"id": consent.id, "pdf_sha256": consent.pdf_sha256},
        "form": {"id": definition.id, "version": definition.version},
        "lot": {
            "id": lot.id,
            "product": lot.product,
            "strength": lot.strength,
            "supplier": lot.supplier,
            "lot_number": lot.lot_number,
            "expires_on": lot.expires_on.isoformat(),
        },
        "dose_mg": number_text(injection.dose_mg),
        "volume_ml": number_text(injection.volume_ml),
        "route": injection.route,
        "site": injection.site,
        "side": injection.side,
        "given_at": injection.given_at.isoformat(),
        "notes": injection.notes or "",
        "reaction": injection.reaction,
        "reaction_action": injection.reaction_action or "",
        "dose_number": injection.dose_number,
        "next_due_on": injection.next_due_on.isoformat() if injection.next_due_on else None,
        "override_reason": injection.override_reason,
        "supersedes": injection.supersedes,
        "correction_reason": injection.correction_reason,
        "clinician": {"id": injection.clinician_id, "name": injection.clinician_name},
        "signed_with": "password and second factor" if second_factor else "password",
        "signed_at": signed_at.isoformat(),
    }


def _reaction_text(body: dict[str, Any], definition: ConsentDefinition) -> str:
    if body["reaction"] == "none":
        return "None observed"
    tiers = {tier.tier: tier.heading for tier in definition.side_effects}
    return tiers.get(body["reaction"], body["reaction"])


def injection_page(
    record: Record, body: dict[str, Any], consent: Consent, definition: ConsentDefinition
) -> RecordPage:
    """The injection's one page, from its sealed body (the renderer of `injection` records)."""
    lot = body["lot"]
    given = datetime.fromisoformat(body["given_at"])
    born = body["patient"]["date_of_birth"]
    check_in = body["visit"]["record_id"]
    fields = [
        RecordField("Patient", body["patient"]["legal_name"] + (f" (born {born})" if born else "")),
        RecordField(
            "Visit",
            body["visit"]["id"] + (f" (check-in record {check_in})" if check_in else ""),
        ),
        RecordField(
            "Lot",
            f"{lot['product']} {lot['strength']}, {lot['supplier']}: lot {lot['lot_number']}, "
            f"expires {lot['expires_on']}",
        ),
        RecordField("Dose", f"{body['dose_mg']} mg in {body['volume_ml']} ml, {body['route']}"),
        RecordField("Site", site_words(body["site"], body["side"])),
        RecordField("Given", given.strftime("%Y-%m-%d %H:%M (UTC%z)")),
        RecordField(
            "In the course",
            f"dose {body['dose_number']}; next due {body['next_due_on'] or 'none'}",
        ),
        RecordField("Notes", body["notes"]),
        RecordField(
            "Observation afterwards",
            _reaction_text(body, definition)
            + (f". What was done: {body['reaction_action']}" if body["reaction_action"] else ""),
            flagged=body["reaction"] != "none",
        ),
    ]
    if body["override_reason"]:
        fields.append(
            RecordField("Sooner than the course allows", body["override_reason"], flagged=True)
        )
    notice = ""
    if body["supersedes"]:
        notice = f"This record corrects record of injection {body['supersedes']}."
        fields.append(RecordField("Why corrected", body["correction_reason"] or ""))
    clinician = body["clinician"]["name"]
    return RecordPage(
        kind=INJECTION,
        title="Injection record",
        clinic_name=definition.clinic_name,
        intro=definition.treatment,
        notice=notice,
        fields=tuple(fields),
        signature_heading="Clinician's electronic signature",
        signature_meaning=(
            f"{clinician} confirmed this record with their {body['signed_with']} as their "
            "electronic signature."
        ),
        signature_rows=(
            RecordField("Signed by", clinician),
            RecordField(
                "Signed",
                datetime.fromisoformat(body["signed_at"]).strftime("%Y-%m-%d %H:%M:%S (UTC%z)"),
            ),
        ),
        record_rows=(
            RecordField("Form", f"{body['form']['id']}, version {body['form']['version']}"),
            RecordField("Record SHA-256", record.body_sha256),
            RecordField("Recorded data", "attached to this PDF as record.json"),
        ),
    )
