"""The tablet's step forms. Each carries its fields and CSRF token; the rules are not here.

A step form validates by calling the shared check for its part of the submission
(`intake.submission.check_*`) and attaching each `FieldError` to the field it names
("patient.emergency_contact.phone" goes to `ec_phone`); an error no field owns goes to the top.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any, ClassVar

from flask_babel import format_decimal
from flask_wtf import FlaskForm
from wtforms import fields
from wtforms.fields.choices import SelectChoice

from intake.definition import ConsentDefinition
from intake.i18n import gettext, lazy_gettext, locale
from intake.languages import N_
from intake.signing import TYPED, Witness
from intake.submission import (
    NOT_SURE,
    FieldError,
    check_acknowledgments,
    check_health,
    check_patient,
    check_screening,
    check_signing,
)
from intake.tablet.dates import iso_to_typed, typed_to_iso
from intake.tablet.widgets import (
    BooleanField,
    EmailInput,
    HiddenField,
    PasswordField,
    RadioField,
    StringField,
    TelInput,
    TextAreaField,
)

#: The signature pad's own coordinate system; strokes are stored in it whatever the screen size.
PAD_WIDTH = 600
PAD_HEIGHT = 200
EMPTY_PAD = json.dumps({"width": PAD_WIDTH, "height": PAD_HEIGHT, "strokes": []})


class StepForm(FlaskForm):
    """A step of the flow; `validate()` runs the shared checks and places their errors."""

    #: Submission field path -> form field name; the longest matching path wins.
    paths: ClassVar[dict[str, str]] = {}
    #: How an error names a field when its label would not read well in a sentence.
    error_labels: ClassVar[dict[str, str]] = {}

    def part(self) -> dict[str, Any]:
        """This step's answers, in the shape of the submission format."""
        raise NotImplementedError

    def check(self) -> list[FieldError]:
        raise NotImplementedError

    def validate(self, extra_validators: Any = None) -> bool:
        if not super().validate(extra_validators):
            return False
        self.place_errors(self.check())
        return not self.has_errors

    @property
    def has_errors(self) -> bool:
        return bool(self.form_errors) or any(f.errors for f in self)

    def field_for(self, path: str) -> str | None:
        """The form field that shows errors for a submission path, if any."""
        matches = [p for p in self.paths if path == p or path.startswith((f"{p}.", f"{p}["))]
        return self.paths[max(matches, key=len)] if matches else None

    def place_errors(self, errors: list[FieldError]) -> None:
        for error in errors:
            name = self.field_for(error.field)
            if name is None:
                self.form_errors.append(field_message(readable_field(error.field), error))
                continue
            message = field_message(self.error_labels.get(name) or self[name].label.text, error)
            if message not in self[name].errors:
                self[name].errors = [*self[name].errors, message]

    def summary(self) -> list[tuple[str, str]]:
        """Every error as (id of the input to jump to, message), in page order."""
        items = [("", message) for message in self.form_errors]
        for f in self:
            anchor = f.id
            if isinstance(f, fields.RadioField):
                anchor = f"{f.id}-0"
            elif isinstance(f, fields.HiddenField):
                anchor = f"{f.id}-pad"
            items.extend((anchor, message) for message in f.errors)
        return items


def readable_field(path: str) -> str:
    """A field path as words ("patient.date_of_birth": "Date of birth") for unplaced errors,
    in the page's language when the catalog has them."""
    last = path.split(".")[-1].split("[")[0]
    words = last.replace("_", " ").capitalize()
    return gettext(FIELD_WORDS[words]) if words in FIELD_WORDS else words


#: The words `readable_field` may give, so that the catalogs carry them.
FIELD_WORDS = {
    words: words
    for words in (
        N_("Legal name"),
        N_("Date of birth"),
        N_("Typed name"),
        N_("Strokes"),
        N_("Signature"),
        N_("Guardian"),
        N_("Name"),
        N_("Relationship"),
        N_("Phone"),
        N_("Email"),
        N_("Address"),
        N_("Allergies"),
        N_("Medications"),
        N_("Conditions"),
        N_("Signed at"),
    )
}


def field_message(label: str, error: FieldError) -> str:
    """An error as the page shows it: the field's name, then the problem, in the page's
    language (`FieldError.template` and `params` are the catalog's message and its values)."""
    problem = translated(error)
    return gettext("%(field)s %(problem)s", field=label, problem=problem)


def translated(error: FieldError) -> str:
    """A check's problem in the page's language; the English words when the catalog has none."""
    if not error.template:
        return error.message
    values = {k: format_decimal(v) if isinstance(v, int) else v for k, v in error.params.items()}
    return gettext(error.template, **values)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


class StartForm(FlaskForm):
    """The welcome screen's Start button."""


class ReviewForm(FlaskForm):
    #: A hidden field's label is never shown: an empty one, so WTForms does not make one from
    #: the name through its own catalog (which Flask-WTF reads from disk once a request).
    submit_token = HiddenField(label="")


class DetailsForm(StepForm):
    legal_name = StringField(
        lazy_gettext("Legal name"),
        description=lazy_gettext("As on your ID."),
        render_kw={"autocomplete": "name"},
    )
    preferred_name = StringField(
        lazy_gettext("Preferred name (optional)"), render_kw={"autocomplete": "nickname"}
    )
    date_of_birth = StringField(
        lazy_gettext("Date of birth"),
        description=lazy_gettext("Month, day, year: for example 04/12/1985."),
        render_kw={
            "autocomplete": "bday",
            "inputmode": "numeric",
            "data-date-of-birth": "",
            "data-future": lazy_gettext("A date of birth cannot be in the future."),
        },
    )
    phone = StringField(
        lazy_gettext("Phone"),
        widget=TelInput(),
        render_kw={"autocomplete": "tel", "inputmode": "tel"},
    )
    email = StringField(
        lazy_gettext("Email (optional)"),
        widget=EmailInput(),
        render_kw={"autocomplete": "email", "inputmode": "email", "autocapitalize": "off"},
    )
    address = TextAreaField(
        lazy_gettext("Home address"), render_kw={"autocomplete": "street-address", "rows": 3}
    )
    ec_name = StringField(lazy_gettext("Name"), render_kw={"autocomplete": "off"})
    ec_phone = StringField(
        lazy_gettext("Phone"),
        widget=TelInput(),
        render_kw={"autocomplete": "off", "inputmode": "tel"},
    )
    ec_relationship = StringField(
        lazy_gettext("Relationship to you"),
        description=lazy_gettext("For example: sister, partner, friend."),
        render_kw={"autocomplete": "off"},
    )
    primary_physician = StringField(
        lazy_gettext("Primary physician (optional)"),
        description=lazy_gettext("Name and phone, if you have one."),
        render_kw={"autocomplete": "off"},
    )

    paths: ClassVar[dict[str, str]] = {
        "patient.legal_name": "legal_name",
        "patient.preferred_name": "preferred_name",
        "patient.date_of_birth": "date_of_birth",
        "patient.phone": "phone",
        "patient.email": "email",
        "patient.address": "address",
        "patient.emergency_contact": "ec_name",
        "patient.emergency_contact.name": "ec_name",
        "patient.emergency_contact.phone": "ec_phone",
        "patient.emergency_contact.relationship": "ec_relationship",
        "patient.primary_physician": "primary_physician",
    }
    error_labels: ClassVar[dict[str, str]] = {
        "preferred_name": lazy_gettext("Preferred name"),
        "email": lazy_gettext("Email"),
        "ec_name": lazy_gettext("Emergency contact name"),
        "ec_phone": lazy_gettext("Emergency contact phone"),
        "ec_relationship": lazy_gettext("Emergency contact relationship"),
        "primary_physician": lazy_gettext("Primary physician"),
    }

    @staticmethod
    def initial(answers: dict[str, Any]) -> dict[str, Any]:
        p = answers.get("patient") or {}
        ec = p.get("emergency_contact") or {}
        return {
            **{k: p.get(k) for k in ("legal_name", "preferred_name", "phone")},
            # As the patient typed it; a date kept from elsewhere in their language's order.
            "date_of_birth": (answers.get("as_typed") or {}).get("date_of_birth")
            or iso_to_typed(p.get("date_of_birth"), locale()),
            **{k: p.get(k) for k in ("email", "address", "primary_physician")},
            "ec_name": ec.get("name"),
            "ec_phone": ec.get("phone"),
            "ec_relationship": ec.get("relationship"),
        }

    def part(self) -> dict[str, Any]:
        d = self.data
        return {
            "patient": {
                **{k: _text(d[k]) for k in ("legal_name", "preferred_name")},
                "date_of_birth": typed_to_iso(_text(d["date_of_birth"]), locale()),
                **{k: _text(d[k]) for k in ("phone", "email", "address")},
                "emergency_contact": {
                    "name": _text(d["ec_name"]),
                    "phone": _text(d["ec_phone"]),
                    "relationship": _text(d["ec_relationship"]),
                },
                "primary_physician": _text(d["primary_physician"]),
            },
            # The draft keeps the date of birth as typed too, to show it back that way; only
            # `patient` goes into the submission.
            "as_typed": {"date_of_birth": _text(d["date_of_birth"])},
        }

    def check(self) -> list[FieldError]:
        return check_patient(self.part()["patient"])[1]


class HealthForm(StepForm):
    """History in the patient's words, then the definition's screening questions."""

    allergies = TextAreaField(
        lazy_gettext("Allergies"),
        description=lazy_gettext('Medicines, foods, latex, metals. Write "none" if you have none.'),
        render_kw={"rows": 3},
    )
    medications = TextAreaField(
        lazy_gettext("Medications and supplements"),
        description=lazy_gettext(
            'Include vitamins and blood thinners. Write "none" if you take none.'
        ),
        render_kw={"rows": 3},
    )
    conditions = TextAreaField(
        lazy_gettext("Medical conditions"),
        description=lazy_gettext('Past and present. Write "none" if you have none.'),
        render_kw={"rows": 3},
    )
    #: (field name, question id) of each screening question, in the definition's order.
    questions: ClassVar[tuple[tuple[str, str], ...]] = ()
    definition: ClassVar[ConsentDefinition]

    @staticmethod
    def initial(answers: dict[str, Any], definition: ConsentDefinition) -> dict[str, Any]:
        health = answers.get("health") or {}
        screening = answers.get("screening") or {}
        yes_no = {True: "yes", False: "no", NOT_SURE: NOT_SURE}
        return {
            **{k: health.get(k) for k in ("allergies", "medications", "conditions")},
            **{f"q_{q.id}": yes_no.get(screening.get(q.id)) for q in definition.screening},
        }

    def part(self) -> dict[str, Any]:
        answer = {"yes": True, "no": False, NOT_SURE: NOT_SURE}
        return {
            "health": {k: _text(self[k].data) for k in ("allergies", "medications", "conditions")},
            "screening": {qid: answer.get(self[name].data) for name, qid in self.questions},
        }

    def check(self) -> list[FieldError]:
        part = self.part()
        errors = check_health(part["health"])[1]
        return errors + check_screening(part["screening"], self.definition)[1]


#: The answers to a screening question; "not sure" is flagged for the clinician like a yes.
ANSWERS = [
    SelectChoice("yes", lazy_gettext("Yes")),
    SelectChoice("no", lazy_gettext("No")),
    SelectChoice(NOT_SURE, lazy_gettext("Not sure")),
]

_health_forms: dict[str, type[HealthForm]] = {}
_consent_forms: dict[str, type[ConsentForm]] = {}


def health_form(definition: ConsentDefinition) -> type[HealthForm]:
    """The health step for a definition: one yes/no field per screening question."""
    key = definition.sha256
    if key not in _health_forms:
        attrs: dict[str, Any] = {
            f"q_{q.id}": RadioField(
                q.question, choices=ANSWERS, validate_choice=False, description=q.plain
            )
            for q in definition.screening
        }
        questions = tuple((f"q_{q.id}", q.id) for q in definition.screening)
        attrs["questions"] = questions
        attrs["definition"] = definition
        attrs["paths"] = {
            "health.allergies": "allergies",
            "health.medications": "medications",
            "health.conditions": "conditions",
            **{f"screening.{qid}": name for name, qid in questions},
        }
        attrs["error_labels"] = {
            name: lazy_gettext("Question %(number)s", number=n)
            for n, (name, _) in enumerate(questions, start=1)
        }
        _health_forms[key] = type("HealthForm", (HealthForm,), attrs)
    return _health_forms[key]


class ConsentForm(StepForm):
    """One checkbox per acknowledgment of the definition; the e-sign consent comes last."""

    #: (field name, acknowledgment id), in the definition's order, e-sign consent excluded.
    statements: ClassVar[tuple[tuple[str, str], ...]] = ()
    esign_field: ClassVar[str]
    definition: ClassVar[ConsentDefinition]

    @staticmethod
    def initial(answers: dict[str, Any], definition: ConsentDefinition) -> dict[str, Any]:
        ticks = answers.get("acknowledgments") or {}
        return {f"a_{a.id}": ticks.get(a.id) is True for a in definition.acknowledgments}

    def part(self) -> dict[str, Any]:
        return {
            "acknowledgments": {
                a.id: bool(self[f"a_{a.id}"].data) for a in self.definition.acknowledgments
            }
        }

    def check(self) -> list[FieldError]:
        return check_acknowledgments(self.part()["acknowledgments"], self.definition)[1]


def consent_form(definition: ConsentDefinition) -> type[ConsentForm]:
    """The consent step for a definition: one checkbox per acknowledgment."""
    key = definition.sha256
    if key not in _consent_forms:
        attrs: dict[str, Any] = {
            f"a_{a.id}": BooleanField(a.text) for a in definition.acknowledgments
        }
        statements = tuple((f"a_{a.id}", a.id) for a in definition.acknowledgments if not a.esign)
        esign = next(a for a in definition.acknowledgments if a.esign)
        attrs["statements"] = statements
        attrs["esign_field"] = f"a_{esign.id}"
        attrs["definition"] = definition
        attrs["paths"] = {
            f"acknowledgments.{a.id}": f"a_{a.id}" for a in definition.acknowledgments
        }
        attrs["error_labels"] = {
            **{
                name: lazy_gettext("Statement %(number)s", number=n)
                for n, (name, _) in enumerate(statements, start=1)
            },
            f"a_{esign.id}": lazy_gettext("The consent to sign electronically"),
        }
        _consent_forms[key] = type("ConsentForm", (ConsentForm,), attrs)
    return _consent_forms[key]


#: What the tablet's signature pad sends; any other key in its hidden field is dropped, so
#: nothing the page did not draw (a made-up `device`, a typed name, kilobytes of padding) is
#: kept in the draft or sealed into the consent.
PAD_KEYS = ("width", "height", "strokes")


def _pad(value: Any) -> dict[str, Any]:
    """The pad's hidden field as data, its own keys only; anything unreadable counts as an empty
    pad.

    Unreadable includes JSON nested deeper than the parser goes (RecursionError).
    """
    try:
        pad = json.loads(value) if isinstance(value, str) and value else None
    except (ValueError, RecursionError):
        pad = None
    if not isinstance(pad, dict):
        return json.loads(EMPTY_PAD)
    return {key: pad[key] for key in PAD_KEYS if key in pad}


class SignForm(StepForm):
    """The signature, the typed name and, for a patient under 18, the guardian's own signature."""

    typed_name = StringField(
        lazy_gettext("Type your full legal name"),
        render_kw={"autocomplete": "off", "autocapitalize": "words"},
    )
    signature = HiddenField(lazy_gettext("Your signature"), default=EMPTY_PAD)
    guardian_name = StringField(
        lazy_gettext("Parent or guardian's full name"), render_kw={"autocomplete": "off"}
    )
    guardian_relationship = StringField(
        lazy_gettext("Relationship to the patient"),
        description=lazy_gettext("For example: mother, father, legal guardian."),
        render_kw={"autocomplete": "off"},
    )
    guardian_signature = HiddenField(
        lazy_gettext("Parent or guardian's signature"), default=EMPTY_PAD
    )

    paths: ClassVar[dict[str, str]] = {
        "signature": "signature",
        "signature.typed_name": "typed_name",
        "guardian": "guardian_name",
        "guardian.name": "guardian_name",
        "guardian.relationship": "guardian_relationship",
        "guardian.signature": "guardian_signature",
    }
    error_labels: ClassVar[dict[str, str]] = {
        "typed_name": lazy_gettext("Your typed name"),
        "signature": lazy_gettext("Your signature"),
        "guardian_name": lazy_gettext("The guardian's name"),
        "guardian_relationship": lazy_gettext("The guardian's relationship"),
        "guardian_signature": lazy_gettext("The guardian's signature"),
    }

    def __init__(
        self,
        *args: Any,
        legal_name: str = "",
        date_of_birth: date | None = None,
        minor: bool = False,
        signed_at: datetime | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.legal_name = legal_name
        self.date_of_birth = date_of_birth
        self.minor = minor
        self.signed_at = signed_at

    @staticmethod
    def initial(answers: dict[str, Any]) -> dict[str, Any]:
        sig = dict(answers.get("signature") or {})
        guardian = answers.get("guardian") or {}
        typed_name = sig.pop("typed_name", "")
        pad = {k: sig[k] for k in PAD_KEYS if k in sig}
        return {
            "typed_name": typed_name,
            "signature": json.dumps(pad) if pad.get("strokes") else EMPTY_PAD,
            "guardian_name": guardian.get("name"),
            "guardian_relationship": guardian.get("relationship"),
            "guardian_signature": json.dumps(guardian["signature"])
            if guardian.get("signature")
            else EMPTY_PAD,
        }

    def part(self) -> dict[str, Any]:
        guardian = None
        if self.minor:
            guardian = {
                "name": _text(self.guardian_name.data),
                "relationship": _text(self.guardian_relationship.data),
                "signature": _pad(self.guardian_signature.data),
            }
        return {
            "signature": {"typed_name": _text(self.typed_name.data), **_pad(self.signature.data)},
            "guardian": guardian,
            "signed_at": self.signed_at.isoformat() if self.signed_at else None,
        }

    def check(self) -> list[FieldError]:
        return check_signing(self.part(), self.legal_name, self.date_of_birth)[1]


class TypedSignForm(SignForm):
    """Signing by typed name, for a patient who cannot use the pad: the typed name is the
    signature, adopted with a tick, and a staff member present confirms it with their login
    (the view checks it: `witness` is set only once it holds)."""

    adopt = BooleanField(
        lazy_gettext("I adopt my typed name above as my signature on this consent.")
    )
    witness_email = StringField(
        lazy_gettext("Staff email"),
        widget=EmailInput(),
        render_kw={"autocomplete": "off", "autocapitalize": "off", "spellcheck": "false"},
    )
    witness_password = PasswordField(
        lazy_gettext("Staff password"), render_kw={"autocomplete": "off"}
    )
    witness_code = StringField(
        lazy_gettext("Code from the authenticator app"),
        description=lazy_gettext("Only for an account with two-step login; or a recovery code."),
        render_kw={"autocomplete": "off", "inputmode": "numeric", "spellcheck": "false"},
    )

    paths: ClassVar[dict[str, str]] = {
        **SignForm.paths,
        "signature.adopt": "adopt",
        "signature.witness": "witness_email",
    }
    error_labels: ClassVar[dict[str, str]] = {
        **SignForm.error_labels,
        "adopt": lazy_gettext("The statement adopting your typed name"),
        "witness_email": lazy_gettext("The staff email"),
        "witness_password": lazy_gettext("The staff password"),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.witness: Witness | None = None

    def part(self) -> dict[str, Any]:
        part = super().part()
        signature = {"method": TYPED, "typed_name": part["signature"]["typed_name"]}
        if self.witness is not None:
            signature["witness"] = {"staff_id": self.witness.staff_id, "name": self.witness.name}
        return {**part, "signature": signature}

    def check(self) -> list[FieldError]:
        """The shared checks, but for the witness (the view confirms the login), and the tick."""
        errors = [
            e
            for e in check_signing(self.part(), self.legal_name, self.date_of_birth)[1]
            if not e.field.startswith("signature.witness")
        ]
        if not self.adopt.data:
            ticked = "must be ticked to go on"
            errors.append(FieldError("signature.adopt", ticked, ticked))
        return errors


class EnrolForm(FlaskForm):
    """A tablet enrols itself: the code from the staff screen, and a name staff will know it by."""

    code = StringField(
        lazy_gettext("Enrolment code"),
        render_kw={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"},
    )
    name = StringField(
        lazy_gettext("Name of this tablet"),
        description=lazy_gettext(
            "For example “Front desk 1”. Staff see it in the list of tablets."
        ),
        render_kw={"autocomplete": "off"},
    )
