"""Signatures as FHIR Provenance: the patient's (drawn on the pad, or by typed name with a
staff witness, a minor's guardian beside them), a staff member's (the clinician's on an
injection, the recorder's on a withdrawal the patient did not sign), and the clinic's seal on
each PDF."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from intake.fhir.resources import (
    AGENT_TYPE,
    AUTHOR_SIGNATURE,
    CONSENT_SIGNATURE,
    SIGNATURE_TYPE,
    SOURCE_SIGNATURE,
    WITNESS_SIGNATURE,
    instant,
    reference,
    staff_reference,
)


def _signature(
    kind: tuple[str, str], when: str, who: dict[str, Any], sig_format: str | None = None
) -> dict[str, Any]:
    found: dict[str, Any] = {
        "type": [{"system": SIGNATURE_TYPE, "code": kind[0], "display": kind[1]}],
        "when": when,
        "who": who,
    }
    if sig_format:
        found["sigFormat"] = sig_format
    return found


def _agent(code: str, who: dict[str, Any]) -> dict[str, Any]:
    return {"type": {"coding": [{"system": AGENT_TYPE, "code": code}]}, "who": who}


def patient_signature(
    provenance_id: str,
    targets: list[dict[str, str]],
    patient_id: str,
    when: str,
    *,
    witness: tuple[str, str] | None = None,
    guardian: str | None = None,
) -> dict[str, Any]:
    """The patient's signature on a consent or record (`targets`): drawn on the pad, or by
    typed name confirmed by a staff `witness` (id, name), who signs as its witness; a minor's
    guardian signs beside them."""
    who = reference("Patient", patient_id)
    agents = [_agent("author", who)]
    signatures = [_signature(CONSENT_SIGNATURE, when, who)]
    if guardian:
        agents.append(_agent("legal", {"display": guardian}))
        signatures.append(_signature(CONSENT_SIGNATURE, when, {"display": guardian}))
    if witness is not None:
        staff = staff_reference("staff", *witness)
        agents.append(_agent("attester", staff))
        signatures.append(_signature(WITNESS_SIGNATURE, when, staff))
    return {
        "resourceType": "Provenance",
        "id": provenance_id,
        "target": targets,
        "recorded": when,
        "agent": agents,
        "signature": signatures,
    }


def staff_signature(
    provenance_id: str, targets: list[dict[str, str]], staff_id: str | None, name: str, when: str
) -> dict[str, Any]:
    """A staff member's signature on a record: the clinician's on an injection (their password
    at signing), the staff member's who recorded a withdrawal."""
    who = staff_reference("staff", staff_id, name)
    return {
        "resourceType": "Provenance",
        "id": provenance_id,
        "target": targets,
        "recorded": when,
        "agent": [_agent("author", who)],
        "signature": [_signature(AUTHOR_SIGNATURE, when, who)],
    }


def seal(
    provenance_id: str, document_id: str, clinic_name: str, sealed_at: datetime
) -> dict[str, Any]:
    """The clinic's seal on a PDF (a PAdES signature inside the file: `export verify` checks
    it)."""
    when = instant(sealed_at)
    who = {"display": clinic_name or "—"}
    return {
        "resourceType": "Provenance",
        "id": provenance_id,
        "target": [reference("DocumentReference", document_id)],
        "recorded": when,
        "agent": [_agent("custodian", who)],
        "signature": [_signature(SOURCE_SIGNATURE, when, who, "application/pdf")],
    }
