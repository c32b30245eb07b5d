"""The visit check-in's form on the tablet: a yes or no per `[[visit_screening]]` question, for a
"yes" to a `pick_tier` question the tier of the reaction and its items, and the signature. The
rules are `intake.checkin`'s; each error is placed at its field, in the patient's language."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from wtforms import HiddenField, RadioField, SelectMultipleField
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import CheckboxInput, ListWidget

from intake.checkin import BAD_ITEM, NO_ANSWER, NO_TIER, check_answers, check_pad
from intake.definition import ConsentDefinition
from intake.i18n import lazy_gettext
from intake.submission import FieldError
from intake.tablet.forms import EMPTY_PAD, StepForm, _pad

#: What the patient reads for each of the check-in's rules (`intake.checkin`'s messages).
MESSAGES = {
    NO_ANSWER: lazy_gettext("Please answer yes or no."),
    NO_TIER: lazy_gettext("Please choose which kind of reaction it was."),
    BAD_ITEM: lazy_gettext("Please choose side effects of the kind you picked."),
}
SIGN_EMPTY = lazy_gettext("Please sign on the pad.")
SIGN_AGAIN = lazy_gettext(
    "That is not a signature we can keep. Please clear the pad and sign again."
)
YES_NO = [SelectChoice("yes", lazy_gettext("Yes")), SelectChoice("no", lazy_gettext("No"))]


class ItemsField(SelectMultipleField):
    """Side effects to tick, as checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class VisitCheckInForm(StepForm):
    """The check-in; `questions` lists (answer field, tier field or None, items field or None,
    question id) in the definition's order."""

    signature = HiddenField(lazy_gettext("Your signature"), default=EMPTY_PAD)
    questions: ClassVar[tuple[tuple[str, str | None, str | None, str], ...]] = ()
    definition: ClassVar[ConsentDefinition]

    def __init__(self, *args: Any, signed_at: datetime | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.signed_at = signed_at

    def part(self) -> dict[str, Any]:
        """The check-in's data, as `intake.checkin.validate_checkin` takes it."""
        answers: dict[str, Any] = {}
        for name, tier, items, qid in self.questions:
            yes = {"yes": True, "no": False}.get(self[name].data)
            answer: dict[str, Any] = {"yes": yes}
            if yes and tier is not None and items is not None:
                chosen = self[tier].data
                answer["tier"] = chosen
                picked = (value.partition(":") for value in self[items].data or [])
                answer["items"] = [item for tier_of, _, item in picked if tier_of == chosen]
            answers[qid] = answer
        return {
            "answers": answers,
            "signature": _pad(self.signature.data),
            "signed_at": self.signed_at.isoformat() if self.signed_at else None,
        }

    def check(self) -> list[FieldError]:
        part = self.part()
        return check_answers(part["answers"], self.definition)[1] + check_pad(part["signature"])[1]

    def place_errors(self, errors: list[FieldError]) -> None:
        for error in errors:
            name = self.field_for(error.field)
            if error.field.startswith("signature"):
                message = SIGN_EMPTY if error.field == "signature.strokes" else SIGN_AGAIN
            else:
                message = MESSAGES[error.message]
            target = self[name] if name else None
            if target is None:
                self.form_errors.append(str(message))
            elif str(message) not in target.errors:
                target.errors = [*target.errors, str(message)]


_forms: dict[str, type[VisitCheckInForm]] = {}


def visit_form(definition: ConsentDefinition) -> type[VisitCheckInForm]:
    """The check-in form for a definition: its questions, and for a `pick_tier` one the tiers
    and their items."""
    key = definition.sha256
    if key in _forms:
        return _forms[key]
    attrs: dict[str, Any] = {}
    questions = []
    paths = {"signature": "signature"}
    for q in definition.visit_screening:
        name = f"q_{q.id}"
        attrs[name] = RadioField(q.question, choices=YES_NO, validate_choice=False)
        paths[f"answers.{q.id}"] = name
        tier = items = None
        if q.pick_tier:
            tier, items = f"t_{q.id}", f"i_{q.id}"
            attrs[tier] = RadioField(
                lazy_gettext("Which kind of reaction was it?"),
                choices=[SelectChoice(t.tier, t.heading) for t in definition.side_effects],
                validate_choice=False,
            )
            attrs[items] = ItemsField(
                lazy_gettext("What did you notice? (tick any)"),
                choices=[
                    SelectChoice(f"{t.tier}:{item}", item)
                    for t in definition.side_effects
                    for item in t.items
                ],
                validate_choice=False,
            )
            paths[f"answers.{q.id}.tier"] = tier
            paths[f"answers.{q.id}.items"] = items
        questions.append((name, tier, items, q.id))
    attrs["questions"] = tuple(questions)
    attrs["definition"] = definition
    attrs["paths"] = paths
    _forms[key] = type("VisitCheckInForm", (VisitCheckInForm,), attrs)
    return _forms[key]
