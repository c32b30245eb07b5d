"""A form as a FHIR Questionnaire (one a version and language), and a signed consent's
answers as its QuestionnaireResponse.

The items follow the form's TOML (`ConsentDefinition`): its sections and side effects as display
items, the patient's details and health history, each screening question (yes, no or not sure,
from `yesnodontknow`) and each acknowledgment; labels come from the message catalogs in the
form's language.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from intake.definition import ConsentDefinition
from intake.fhir.resources import (
    ACKNOWLEDGMENT_SYSTEM,
    DOCUMENT_LANGUAGE,
    FORM_TEXT_SHA256,
    NULL_FLAVOR,
    YES_NO,
    YES_NO_DONT_KNOW,
    canonical_url,
    identifier,
    plain_text,
    questionnaire_id,
    reference,
)
from intake.languages import words

#: What a screening answer becomes (yes, no, not sure), from `yesnodontknow`.
ANSWERS = {
    True: {"system": YES_NO, "code": "Y", "display": "Yes"},
    False: {"system": YES_NO, "code": "N", "display": "No"},
    "not_sure": {"system": NULL_FLAVOR, "code": "ASKU", "display": "Asked But Unknown"},
}


def questionnaire(
    form_id: str, version: str, language: str, sha256: str, definition: ConsentDefinition | None
) -> dict[str, Any]:
    """One version of a form in one language: every item of its text when `definition` is that
    text (the current TOML), else (an older version, known by its SHA-256 only) no items and
    status retired. The text's SHA-256 (as `forms/versions.lock` records it) is an identifier."""
    found: dict[str, Any] = {
        "resourceType": "Questionnaire",
        "id": questionnaire_id(form_id, language, version),
        "language": DOCUMENT_LANGUAGE.get(language, language),
        "url": canonical_url(form_id, language),
        "identifier": [{"system": FORM_TEXT_SHA256, "value": sha256}],
        "version": version,
        "name": computable_name(form_id),
        "status": "retired",
        "subjectType": ["Patient"],
    }
    if definition is None:
        return found
    found.update(
        title=definition.title,
        status="active",
        publisher=definition.clinic_name,
        description=definition.purpose,
        purpose=definition.treatment,
        item=_items(definition, language),
    )
    return found


def computable_name(form_id: str) -> str:
    """The form's id as FHIR's computable name wants it ("B12Methylcobalamin")."""
    name = "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", form_id))
    return name if name[:1].isalpha() else f"Form{name}"


def _display(link_id: str, text: str) -> dict[str, Any]:
    return {"linkId": link_id, "type": "display", "text": text}


def _question(link_id: str, text: str, kind: str, required: bool = False) -> dict[str, Any]:
    found: dict[str, Any] = {"linkId": link_id, "text": text, "type": kind}
    if required:
        found["required"] = True
    return found


def _items(definition: ConsentDefinition, language: str) -> list[dict[str, Any]]:
    _ = words(language)
    items = [
        _display(
            f"section.{s.id}",
            "\n\n".join([s.heading, *s.paragraphs, *(f"• {item}" for item in s.items)]),
        )
        for s in definition.sections
    ]
    items += [
        _display(
            f"side-effects.{tier.tier}",
            "\n\n".join(
                p for p in (tier.heading, tier.headline, tier.intro, *tier.items, tier.action) if p
            ),
        )
        for tier in definition.side_effects
    ]
    items.append(
        {
            "linkId": "patient",
            "type": "group",
            "text": _("Patient details"),
            "item": [
                _question("patient.legal_name", _("Legal name"), "string", True),
                _question("patient.preferred_name", _("Preferred name"), "string"),
                _question("patient.date_of_birth", _("Date of birth"), "date", True),
                _question("patient.phone", _("Phone"), "string"),
                _question("patient.email", _("Email"), "string"),
                _question("patient.address", _("Address"), "text"),
                {
                    "linkId": "patient.emergency_contact",
                    "type": "group",
                    "text": _("Emergency contact"),
                    "item": [
                        _question("patient.emergency_contact.name", _("Name"), "string"),
                        _question("patient.emergency_contact.phone", _("Phone"), "string"),
                        _question(
                            "patient.emergency_contact.relationship", _("Relationship"), "string"
                        ),
                    ],
                },
                _question("patient.primary_physician", _("Primary physician"), "string"),
            ],
        }
    )
    items.append(
        {
            "linkId": "health",
            "type": "group",
            "text": _("Health history"),
            "item": [
                _question("health.allergies", _("Allergies"), "text"),
                _question("health.medications", _("Medications and supplements"), "text"),
                _question("health.conditions", _("Conditions"), "text"),
            ],
        }
    )
    items.append(
        {
            "linkId": "screening",
            "type": "group",
            "text": _("Screening questions"),
            "item": [
                {
                    **_question(f"screening.{q.id}", q.question, "choice", True),
                    "answerValueSet": YES_NO_DONT_KNOW,
                }
                for q in definition.screening
            ],
        }
    )
    items.append(
        {
            "linkId": "acknowledgments",
            "type": "group",
            "text": _("Acknowledgments"),
            "item": [
                {
                    **_question(f"acknowledgments.{a.id}", a.text, "boolean", True),
                    "code": [{"system": ACKNOWLEDGMENT_SYSTEM, "code": a.id}],
                }
                for a in definition.acknowledgments
            ],
        }
    )
    items.append(_display("signature", definition.signature.meaning))
    return items


def questionnaire_response(
    consent_id: str,
    patient_id: str,
    canonical: str,
    signed_at: str,
    submission: Mapping[str, Any],
    definition: ConsentDefinition | None,
) -> dict[str, Any]:
    """Every answer of a signed consent, linked to its form's `canonical` (`url|version`).
    The screening answers follow the definition's order when it is the signed text, else
    the submission's."""
    p = _mapping(submission.get("patient"))
    health = _mapping(submission.get("health"))
    screening = _mapping(submission.get("screening"))
    acknowledged = _mapping(submission.get("acknowledgments"))
    question_ids = [q.id for q in definition.screening] if definition else list(screening)
    ack_ids = [a.id for a in definition.acknowledgments] if definition else list(acknowledged)
    ec = _mapping(p.get("emergency_contact"))
    groups = [
        _group(
            "patient",
            [
                _answered("patient.legal_name", "valueString", p.get("legal_name")),
                _answered("patient.preferred_name", "valueString", p.get("preferred_name")),
                _answered("patient.date_of_birth", "valueDate", p.get("date_of_birth")),
                _answered("patient.phone", "valueString", p.get("phone")),
                _answered("patient.email", "valueString", p.get("email")),
                _answered("patient.address", "valueString", p.get("address")),
                _group(
                    "patient.emergency_contact",
                    [
                        _answered(f"patient.emergency_contact.{k}", "valueString", ec.get(k))
                        for k in ("name", "phone", "relationship")
                    ],
                ),
                _answered("patient.primary_physician", "valueString", p.get("primary_physician")),
            ],
        ),
        _group(
            "health",
            [
                _answered(f"health.{k}", "valueString", health.get(k))
                for k in ("allergies", "medications", "conditions")
            ],
        ),
        _group(
            "screening",
            [
                {
                    "linkId": f"screening.{qid}",
                    "answer": [{"valueCoding": ANSWERS[_answer(screening.get(qid))]}],
                }
                for qid in question_ids
                if qid in screening
            ],
        ),
        _group(
            "acknowledgments",
            [
                {
                    "linkId": f"acknowledgments.{aid}",
                    "answer": [{"valueBoolean": acknowledged.get(aid) is True}],
                }
                for aid in ack_ids
            ],
        ),
    ]
    return {
        "resourceType": "QuestionnaireResponse",
        "id": consent_id,
        "identifier": identifier("consent", consent_id),
        "questionnaire": canonical,
        "status": "completed",
        "subject": reference("Patient", patient_id),
        "authored": signed_at,
        "author": reference("Patient", patient_id),
        "source": reference("Patient", patient_id),
        "item": [g for g in groups if g],
    }


def _answer(value: Any) -> bool | str:
    return value if value in (True, False, "not_sure") else False


def _answered(link_id: str, key: str, value: Any) -> dict[str, Any] | None:
    text = plain_text(value)
    return {"linkId": link_id, "answer": [{key: text}]} if text else None


def _group(link_id: str, items: list[dict[str, Any] | None]) -> dict[str, Any] | None:
    kept = [item for item in items if item]
    return {"linkId": link_id, "item": kept} if kept else None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


# --- the visit check-in --------------------------------------------------------------------

#: What a check-in's Questionnaire is called beside its form's: `<form url>:check-in`.
CHECK_IN = "check-in"


def check_in_url(form_id: str) -> str:
    return f"{canonical_url(form_id, 'en')}:{CHECK_IN}"


def check_in_questionnaire(
    form_id: str, version: str, sha256: str, definition: ConsentDefinition | None
) -> dict[str, Any]:
    """The questions a returning patient answers at a visit's check-in, as the form's TOML
    (`[visit]` and `visit_screening`) has them: each a yes or no, a "yes" with its detail (the
    tier of a reaction, the items picked). Retired, without items, for a version no longer in
    the forms folder."""
    found: dict[str, Any] = {
        "resourceType": "Questionnaire",
        "id": questionnaire_id(form_id, CHECK_IN, version),
        "language": DOCUMENT_LANGUAGE["en"],
        "url": check_in_url(form_id),
        "identifier": [{"system": FORM_TEXT_SHA256, "value": sha256}],
        "version": version,
        "name": f"{computable_name(form_id)}CheckIn",
        "status": "retired",
        "subjectType": ["Patient"],
    }
    if definition is None:
        return found
    _ = words(definition.language)
    questions = [
        {
            **_question(f"check-in.{q.id}", q.question, "boolean", True),
            "item": [_question(f"check-in.{q.id}.detail", _("Details"), "string")],
        }
        for q in definition.visit_screening
    ]
    found.update(
        title=definition.title,
        status="active",
        publisher=definition.clinic_name,
        item=[
            _display("check-in.intro", definition.visit.intro),
            *questions,
            _display("check-in.reminder", definition.visit.side_effects_reminder),
            _display("check-in.signature", definition.visit.meaning),
        ],
    )
    return found


def check_in_response(
    record_id: str, patient_id: str, body: Mapping[str, Any]
) -> dict[str, Any] | None:
    """A check-in's answers, from its sealed record's body (the questions as shown, each answer
    and its detail); None for a body without its form."""
    form = _mapping(body.get("form"))
    if not isinstance(form.get("id"), str) or not isinstance(form.get("version"), str):
        return None
    items = []
    for answer in body.get("answers") or []:
        if not isinstance(answer, Mapping) or not isinstance(answer.get("id"), str):
            continue
        item: dict[str, Any] = {
            "linkId": f"check-in.{answer['id']}",
            "answer": [{"valueBoolean": answer.get("yes") is True}],
        }
        detail = plain_text(answer_detail(answer))
        if detail:
            item["answer"][0]["item"] = [
                {"linkId": f"check-in.{answer['id']}.detail", "answer": [{"valueString": detail}]}
            ]
        items.append(item)
    found: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "id": record_id,
        "identifier": identifier("record", record_id),
        "questionnaire": f"{check_in_url(form['id'])}|{form['version']}",
        "status": "completed",
        "subject": reference("Patient", patient_id),
        "author": reference("Patient", patient_id),
        "source": reference("Patient", patient_id),
    }
    if isinstance(body.get("signed_at"), str):
        found["authored"] = body["signed_at"]
    if items:
        found["item"] = items
    return found


def answer_detail(answer: Mapping[str, Any]) -> str:
    """A "yes" answer's detail as the record's PDF prints it: the tier, then the items picked."""
    if not answer.get("tier"):
        return ""
    picked = ", ".join(str(i) for i in answer.get("items") or [])
    heading = str(answer.get("tier_heading") or answer["tier"])
    return heading + (f": {picked}" if picked else "")
