"""The one validator of a visit's check-in: a yes or no to each of the form's
`[[visit_screening]]` questions, for a "yes" to a `pick_tier` question which tier of side effects
it was (and which of that tier's items), and the patient's signature on the pad. The tablet's
check-in form and the archive both call it; no Flask here.

Errors are `FieldError`s naming the field ("answers.reaction_after_last.tier"); their messages
are the constants below, which the tablet shows in the patient's language.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from intake.definition import ConsentDefinition
from intake.submission import FieldError, SignaturePad, SubmissionInvalid, _Checker

NO_ANSWER = "needs an answer: yes or no"
NO_TIER = "needs which kind of reaction it was"
BAD_ITEM = "names a side effect that is not one of this kind"
NO_TIME = "is required"

#: At most this many side effects picked for one answer (a tier has fewer).
ITEMS_MAX = 20


@dataclass(frozen=True)
class VisitAnswer:
    """The patient's answer to one check-in question; for a reaction, its tier and items."""

    id: str
    yes: bool
    tier: str | None = None
    items: tuple[str, ...] = ()


@dataclass(frozen=True)
class CheckIn:
    """A validated check-in, ready to be sealed as a visit record."""

    answers: tuple[VisitAnswer, ...]
    signature: SignaturePad
    signed_at: datetime

    @property
    def flagged(self) -> bool:
        """Any "yes" needs a clinician's eye before the injection."""
        return any(answer.yes for answer in self.answers)


def check_answers(
    data: Any, definition: ConsentDefinition
) -> tuple[tuple[VisitAnswer, ...] | None, list[FieldError]]:
    """Each question's answer (`{"yes": bool, "tier": str, "items": [str]}` by question id)."""
    errors: list[FieldError] = []
    given = data if isinstance(data, Mapping) else {}
    tiers = {tier.tier: tier for tier in definition.side_effects}
    answers = []
    for question in definition.visit_screening:
        where = f"answers.{question.id}"
        raw = given.get(question.id)
        raw = raw if isinstance(raw, Mapping) else {}
        yes = raw.get("yes")
        if not isinstance(yes, bool):
            errors.append(FieldError(where, NO_ANSWER))
            continue
        tier, items = None, ()
        if yes and question.pick_tier:
            tier = raw.get("tier")
            if tier not in tiers:
                errors.append(FieldError(f"{where}.tier", NO_TIER))
                continue
            picked = raw.get("items") or []
            if (
                not isinstance(picked, list)
                or len(picked) > ITEMS_MAX
                or any(item not in tiers[tier].items for item in picked)
            ):
                errors.append(FieldError(f"{where}.items", BAD_ITEM))
                continue
            items = tuple(item for item in tiers[tier].items if item in picked)
        answers.append(VisitAnswer(question.id, yes, tier, items))
    return (tuple(answers) if not errors else None), errors


def check_pad(data: Any) -> tuple[SignaturePad | None, list[FieldError]]:
    """The signature pad's strokes, by the consent's own rule of what is a signature."""
    checker = _Checker()
    pad = checker.pad(data, "signature")
    return pad, checker.errors


def validate_checkin(data: Any, definition: ConsentDefinition) -> CheckIn:
    """A check-in from its data (`answers`, `signature`, `signed_at`); `SubmissionInvalid`
    listing every problem otherwise."""
    data = data if isinstance(data, Mapping) else {}
    answers, errors = check_answers(data.get("answers"), definition)
    pad, pad_errors = check_pad(data.get("signature"))
    errors += pad_errors
    signed_at = None
    try:
        signed_at = datetime.fromisoformat(str(data.get("signed_at")))
    except ValueError:
        pass
    if signed_at is None or signed_at.tzinfo is None:
        errors.append(FieldError("signed_at", NO_TIME))
    if errors or answers is None or pad is None or signed_at is None:
        raise SubmissionInvalid(errors)
    return CheckIn(answers, pad, signed_at)
