"""A patient's submission: its shape, and the one validator shared by the CLI and the web form.

`validate_submission()` turns untrusted JSON-like data into a frozen `Submission`, or raises
`SubmissionInvalid` listing every problem with the field it belongs to ("patient.date_of_birth",
"signature.strokes[0][3]"). The `check_*` functions validate one part each, so the tablet flow
can check a step at a time with exactly the same rules.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
import sys
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from typing import Any

from intake.canonical import canonical_json
from intake.characters import DIRECTION_CONTROLS, LINE_BREAKS, shown_key, shows_nothing
from intake.definition import ConsentDefinition, FormCatalog, ScreeningLevel
from intake.email_address import EMAIL_MAX, is_email_address
from intake.languages import DEFAULT_LANGUAGE
from intake.signing import DRAWN, METHODS, TYPED, Witness, check_witness, same_name

#: Longest accepted values, in characters.
NAME_MAX = 200
SHORT_TEXT_MAX = 300
ADDRESS_MAX = 500
LONG_TEXT_MAX = 10_000
PHONE_MAX = 40
RELATIONSHIP_MAX = 100
USER_AGENT_MAX = 1_000

#: Signature pad limits: enough for any real signature, small enough to render quickly.
PAD_SIZE_MAX = 5_000
STROKES_MAX = 100
POINTS_PER_STROKE_MAX = 5_000
POINTS_TOTAL_MAX = 20_000
#: A signature must span at least this share of the pad's width (or 10 units), in x or y.
SIGNATURE_MIN_EXTENT = 0.04

ADULT_AGE = 18

_PHONE_CHARS = re.compile(r"^[0-9+()\-. ]+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class FieldError:
    """One problem with one field, in words a patient or a clinic can act on.

    `message` is in English (the CLI's words); `template` is the same message as a catalog's
    msgid with `%(name)s` placeholders and `params` their values, so a page can show it in the
    patient's language."""

    field: str
    message: str
    template: str = field(default="", compare=False)
    params: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class SubmissionInvalid(ValueError):
    """The submission has problems; `errors` lists each with its field."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(str(e) for e in errors))


@dataclass(frozen=True)
class EmergencyContact:
    name: str
    phone: str
    relationship: str


@dataclass(frozen=True)
class Patient:
    legal_name: str
    preferred_name: str
    date_of_birth: date
    phone: str
    email: str
    address: str
    emergency_contact: EmergencyContact
    primary_physician: str = ""


@dataclass(frozen=True)
class Health:
    allergies: str
    medications: str
    conditions: str


@dataclass(frozen=True)
class SignaturePad:
    """Strokes drawn on a pad of `width` x `height` units, origin top left, y downwards."""

    width: float
    height: float
    strokes: tuple[tuple[tuple[float, float], ...], ...]

    @property
    def point_count(self) -> int:
        return sum(len(s) for s in self.strokes)


@dataclass(frozen=True)
class Guardian:
    """The parent or legal guardian who signs for a patient under 18."""

    name: str
    relationship: str
    signature: SignaturePad


@dataclass(frozen=True)
class Device:
    user_agent: str = ""
    ip: str = ""


@dataclass(frozen=True)
class ScreeningFlag:
    """A screening answer that a clinician must review before injecting."""

    question_id: str
    question: str
    level: ScreeningLevel
    reason: str
    #: The patient answered "not sure", flagged like a "yes".
    not_sure: bool = False


#: The third answer to a screening question, beside true and false.
NOT_SURE = "not_sure"


@dataclass(frozen=True)
class Submission:
    """A validated submission. `raw` is the data exactly as submitted (extra fields included)."""

    form_id: str
    patient: Patient
    health: Health
    #: Each question's answer: True, False or `NOT_SURE`.
    screening: tuple[tuple[str, bool | str], ...]
    acknowledgments: tuple[str, ...]
    typed_name: str
    #: The drawn signature; None when the patient signed by typed name (`witness`).
    signature: SignaturePad | None
    guardian: Guardian | None
    signed_at: datetime
    device: Device
    raw: Mapping[str, Any] = field(repr=False, compare=False)
    #: The staff member who witnessed a signature by typed name; None for a drawn one.
    witness: Witness | None = None
    #: The language of the consent text the patient read and signed ("language"; English when
    #: the submission names none).
    language: str = DEFAULT_LANGUAGE

    def canonical_json(self) -> bytes:
        """The submitted data as canonical JSON: sorted keys, no spaces, UTF-8 (made once: a
        submit stores, hashes, checks and attaches it)."""
        return self._canonical

    @cached_property
    def _canonical(self) -> bytes:
        return canonical_json(self.raw)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.canonical_json()).hexdigest()

    @property
    def is_minor(self) -> bool:
        return age_on(self.patient.date_of_birth, self.signed_at.date()) < ADULT_AGE

    def flags(self, definition: ConsentDefinition) -> list[ScreeningFlag]:
        """Every "yes" and "not sure" answer, in the definition's order, for clinician review."""
        return screening_flags(dict(self.screening), definition)


def screening_flags(
    answers: Mapping[str, Any], definition: ConsentDefinition
) -> list[ScreeningFlag]:
    """The flag of every question `definition` asks that `answers` (id → answer) says yes or
    "not sure" to."""
    return [
        ScreeningFlag(q.id, q.question, q.level, q.reason, not_sure=answers.get(q.id) == NOT_SURE)
        for q in definition.screening
        if answers.get(q.id) is True or answers.get(q.id) == NOT_SURE
    ]


def age_on(born: date, on: date) -> int:
    """Whole years between `born` and `on`."""
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


class _Checker:
    """Collects errors while reading values out of untrusted data."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def error(self, name: str, template: str, **params: Any) -> None:
        """Record a problem; `template` is a catalog msgid (`%(name)s` placeholders)."""
        english = {k: f"{v:,}" if isinstance(v, int) else v for k, v in params.items()}
        message = template % english if params else template
        self.errors.append(FieldError(name, message, template, params))

    def mapping(self, data: Any, name: str, required: bool = True) -> Mapping[str, Any]:
        if isinstance(data, Mapping):
            return data
        if data is None and not required:
            return {}
        if data is None:
            self.error(name, "is required")
        else:
            self.error(name, "must be an object")
        return {}

    def text(
        self,
        data: Mapping[str, Any],
        key: str,
        name: str,
        *,
        max_len: int = SHORT_TEXT_MAX,
        required: bool = True,
        multiline: bool = False,
    ) -> str:
        """A trimmed, NFC-normalised string; "" (with an error when required) if unusable."""
        full = f"{name}.{key}" if name else key
        value = data.get(key)
        if value is None:
            value = ""
        if not isinstance(value, str):
            self.error(full, "must be text")
            return ""
        value = unicodedata.normalize("NFC", value).strip()
        if not value or all(shows_nothing(ch) for ch in value):
            if required:
                self.error(full, "is required")
            return ""
        if len(value) > max_len:
            self.error(
                full,
                "is too long (%(length)s characters; at most %(limit)s)",
                length=len(value),
                limit=max_len,
            )
            return ""
        for ch in value:
            category = unicodedata.category(ch)
            if (
                category == "Cs"
                or (category == "Cc" and not (multiline and ch in LINE_BREAKS))
                or ch in DIRECTION_CONTROLS
            ):
                self.error(full, "contains a control character; please retype it")
                return ""
        return value

    def phone(self, data: Mapping[str, Any], key: str, name: str, required: bool = True) -> str:
        value = self.text(data, key, name, max_len=PHONE_MAX, required=required)
        if value:
            digits = sum(ch.isdigit() for ch in value)
            if not _PHONE_CHARS.match(value) or not 7 <= digits <= 15:
                self.error(f"{name}.{key}", "is not a phone number (7 to 15 digits)")
                return ""
        return value

    def email(self, data: Mapping[str, Any], key: str, name: str) -> str:
        value = self.text(data, key, name, max_len=EMAIL_MAX, required=False)
        if value and not is_email_address(value):
            self.error(f"{name}.{key}", "is not an email address (name@example.org)")
            return ""
        return value

    def iso_date(self, data: Mapping[str, Any], key: str, name: str) -> date | None:
        full = f"{name}.{key}"
        value = self.text(data, key, name, max_len=10)
        if not value:
            return None
        try:
            if not _DATE.match(value):
                raise ValueError
            return date.fromisoformat(value)
        except ValueError:
            self.error(full, "must be a date written YYYY-MM-DD")
            return None

    def pad(self, data: Any, name: str) -> SignaturePad | None:
        """Signature strokes: a list of strokes, each a list of [x, y] points inside the pad.

        A pad without strokes, `{}` included, is an empty pad: refused like one, never taken for
        "no signature given".
        """
        if not isinstance(data, Mapping):
            self.mapping(data, name)
            return None
        raw_strokes = data.get("strokes")
        if not isinstance(raw_strokes, list) or not raw_strokes:
            self.error(f"{name}.strokes", "is empty: please sign on the pad")
            return None
        size = []
        for key in ("width", "height"):
            value = data.get(key)
            if not _is_number(value) or not 1 <= value <= PAD_SIZE_MAX:
                self.error(
                    f"{name}.{key}", "must be a number from 1 to %(limit)s", limit=str(PAD_SIZE_MAX)
                )
                return None
            size.append(float(value))
        width, height = size
        if len(raw_strokes) > STROKES_MAX:
            self.error(
                f"{name}.strokes", "has too many strokes (at most %(limit)s)", limit=STROKES_MAX
            )
            return None
        total = sum(len(s) if isinstance(s, list) else 0 for s in raw_strokes)
        if total > POINTS_TOTAL_MAX:
            self.error(
                f"{name}.strokes", "has too many points (at most %(limit)s)", limit=POINTS_TOTAL_MAX
            )
            return None
        strokes = []
        for i, stroke in enumerate(raw_strokes):
            where = f"{name}.strokes[{i}]"
            if not isinstance(stroke, list) or not stroke:
                self.error(where, "must be a non-empty list of points")
                return None
            if len(stroke) > POINTS_PER_STROKE_MAX:
                self.error(
                    where, "has too many points (at most %(limit)s)", limit=POINTS_PER_STROKE_MAX
                )
                return None
            points = []
            for j, point in enumerate(stroke):
                if (
                    not isinstance(point, list)
                    or len(point) != 2
                    or not all(_is_number(v) for v in point)
                ):
                    self.error(f"{where}[{j}]", "must be a point [x, y] of two numbers")
                    return None
                x, y = float(point[0]), float(point[1])
                if not (0 <= x <= width and 0 <= y <= height):
                    self.error(f"{where}[{j}]", "lies outside the signature pad")
                    return None
                points.append((x, y))
            strokes.append(tuple(points))
        xs = [x for s in strokes for x, _ in s]
        ys = [y for s in strokes for _, y in s]
        if max(max(xs) - min(xs), max(ys) - min(ys)) < max(10.0, SIGNATURE_MIN_EXTENT * width):
            self.error(f"{name}.strokes", "is too small to be a signature: please sign again")
            return None
        return SignaturePad(width, height, tuple(strokes))


def _is_number(value: Any) -> bool:
    """A JSON number a float can hold: not a bool, NaN, an infinity, or an integer so long
    that converting it raises (`abs()` compares an int with a float exactly, without one)."""
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and abs(value) <= sys.float_info.max
    )


def check_patient(data: Any, c: _Checker | None = None) -> tuple[Patient | None, list[FieldError]]:
    """The patient's details, including the emergency contact."""
    c = c or _Checker()
    before = len(c.errors)
    p = c.mapping(data, "patient")
    ec = c.mapping(p.get("emergency_contact"), "patient.emergency_contact") if p else {}
    name = "patient.emergency_contact"
    patient = Patient(
        legal_name=c.text(p, "legal_name", "patient", max_len=NAME_MAX),
        preferred_name=c.text(p, "preferred_name", "patient", max_len=NAME_MAX, required=False),
        date_of_birth=c.iso_date(p, "date_of_birth", "patient"),  # type: ignore[arg-type]
        phone=c.phone(p, "phone", "patient"),
        email=c.email(p, "email", "patient"),
        address=c.text(p, "address", "patient", max_len=ADDRESS_MAX, multiline=True),
        emergency_contact=EmergencyContact(
            name=c.text(ec, "name", name, max_len=NAME_MAX),
            phone=c.phone(ec, "phone", name),
            relationship=c.text(ec, "relationship", name, max_len=RELATIONSHIP_MAX),
        ),
        primary_physician=c.text(
            p, "primary_physician", "patient", max_len=SHORT_TEXT_MAX, required=False
        ),
    )
    born = patient.date_of_birth
    if born is not None and (born.year < 1900 or born > date.today()):
        c.error("patient.date_of_birth", "must be a real date of birth, not in the future")
    return (None if len(c.errors) > before else patient), c.errors


def check_health(data: Any, c: _Checker | None = None) -> tuple[Health | None, list[FieldError]]:
    """Allergies, medications and conditions: free text, "none" when there are none."""
    c = c or _Checker()
    before = len(c.errors)
    h = c.mapping(data, "health")
    health = Health(
        *(
            c.text(h, key, "health", max_len=LONG_TEXT_MAX, multiline=True)
            for key in ("allergies", "medications", "conditions")
        )
    )
    return (None if len(c.errors) > before else health), c.errors


def check_screening(
    data: Any, definition: ConsentDefinition, c: _Checker | None = None
) -> tuple[tuple[tuple[str, bool | str], ...], list[FieldError]]:
    """Every screening question of the definition answered yes (true), no (false) or not sure
    (`NOT_SURE`)."""
    c = c or _Checker()
    answers = c.mapping(data, "screening")
    known = {q.id for q in definition.screening}
    for key in answers:
        if key not in known:
            c.error(f"screening.{shown_key(key)}", "is not a question of this form")
    result = []
    for q in definition.screening:
        value = answers.get(q.id)
        if not isinstance(value, bool) and value != NOT_SURE:
            c.error(f"screening.{q.id}", "must be answered yes or no, or not sure")
        else:
            result.append((q.id, value))
    return tuple(result), c.errors


def check_acknowledgments(
    data: Any, definition: ConsentDefinition, c: _Checker | None = None
) -> tuple[tuple[str, ...], list[FieldError]]:
    """Every acknowledgment of the definition ticked (true)."""
    c = c or _Checker()
    ticks = c.mapping(data, "acknowledgments")
    for a in definition.acknowledgments:
        if ticks.get(a.id) is not True:
            c.error(f"acknowledgments.{a.id}", "must be ticked to go on")
    return tuple(a.id for a in definition.acknowledgments), c.errors


def check_signing(
    data: Mapping[str, Any],
    legal_name: str,
    date_of_birth: date | None,
    c: _Checker | None = None,
) -> tuple[
    tuple[str, SignaturePad | None, Guardian | None, datetime, Witness | None] | None,
    list[FieldError],
]:
    """The signature (drawn, or by typed name with its witness), typed name, signing time, and
    a guardian when the patient is a minor."""
    c = c or _Checker()
    before = len(c.errors)
    sig = c.mapping(data.get("signature"), "signature")
    typed_name = c.text(sig, "typed_name", "signature", max_len=NAME_MAX)
    if typed_name and legal_name and not same_name(typed_name, legal_name):
        c.error("signature.typed_name", "must match your legal name")
    method = sig.get("method", DRAWN)
    pad = witness = None
    if method not in METHODS:
        c.error("signature.method", "must be one of %(choices)s", choices=", ".join(METHODS))
    elif method == TYPED:
        if "strokes" in sig:
            c.error("signature.strokes", "is not part of a signature by typed name")
        witness = check_witness(c, sig.get("witness"), "signature.witness")
    elif sig:
        pad = c.pad(sig, "signature")

    signed_at = None
    raw_time = data.get("signed_at")
    if not isinstance(raw_time, str) or not raw_time.strip():
        c.error("signed_at", "is required")
    else:
        try:
            signed_at = datetime.fromisoformat(raw_time.strip())
            if signed_at.tzinfo is None:
                c.error("signed_at", "must include a UTC offset, like 2026-11-29T10:15:00-05:00")
                signed_at = None
        except ValueError:
            c.error("signed_at", "must be a date and time like 2026-11-29T10:15:00-05:00")

    guardian = None
    raw_guardian = data.get("guardian")
    if date_of_birth and signed_at:
        if date_of_birth > signed_at.date():
            c.error("patient.date_of_birth", "is after the signing date")
        elif age_on(date_of_birth, signed_at.date()) < ADULT_AGE:
            # An empty object counts as missing: a minor's consent always carries a guardian.
            if not raw_guardian:
                c.error("guardian", "is required: a parent or guardian signs for anyone under 18")
            g = c.mapping(raw_guardian or None, "guardian", required=False)
            if g:
                g_name = c.text(g, "name", "guardian", max_len=NAME_MAX)
                g_relationship = c.text(g, "relationship", "guardian", max_len=RELATIONSHIP_MAX)
                g_pad = c.pad(g.get("signature"), "guardian.signature")
                if g_name and g_relationship and g_pad:
                    guardian = Guardian(g_name, g_relationship, g_pad)
        elif raw_guardian is not None:
            c.error("guardian", "is only for a patient under 18")
    if len(c.errors) > before or (pad or witness) is None or signed_at is None:
        return None, c.errors
    return (typed_name, pad, guardian, signed_at, witness), c.errors


def check_device(data: Any, c: _Checker | None = None) -> tuple[Device, list[FieldError]]:
    c = c or _Checker()
    d = c.mapping(data, "device", required=False)
    user_agent = c.text(d, "user_agent", "device", max_len=USER_AGENT_MAX, required=False)
    ip = c.text(d, "ip", "device", max_len=64, required=False)
    if ip:
        try:
            ip = str(ipaddress.ip_address(ip))
        except ValueError:
            c.error("device.ip", "is not an IP address")
            ip = ""
    return Device(user_agent, ip), c.errors


def validate_submission(data: Any, catalog: FormCatalog) -> Submission:
    """Check a whole submission against its form; raise `SubmissionInvalid` with every problem."""
    c = _Checker()
    data = c.mapping(data, "submission")
    if c.errors:
        raise SubmissionInvalid(c.errors)
    form_id = data.get("form")
    try:
        definition = catalog.get(form_id) if isinstance(form_id, str) else None
    except KeyError:
        definition = None
    if definition is None:
        raise SubmissionInvalid(
            [FieldError("form", f"is not a known form (known: {', '.join(catalog.ids())})")]
        )
    language = data.get("language", DEFAULT_LANGUAGE)
    offered = catalog.languages(definition.id)
    if language not in offered:
        c.error("language", "is not a language of this form (%(known)s)", known=", ".join(offered))
        language = DEFAULT_LANGUAGE

    patient, _ = check_patient(data.get("patient"), c)
    health, _ = check_health(data.get("health"), c)
    screening, _ = check_screening(data.get("screening"), definition, c)
    acknowledgments, _ = check_acknowledgments(data.get("acknowledgments"), definition, c)
    p = data.get("patient") if isinstance(data.get("patient"), Mapping) else {}
    raw_name = p.get("legal_name")
    legal_name = patient.legal_name if patient else ""
    if not patient and isinstance(raw_name, str):
        # Another patient field is wrong: still check the typed name against the given one.
        legal_name = raw_name.strip()
    born = patient.date_of_birth if patient else None
    signing, _ = check_signing(data, legal_name, born, c)
    device, _ = check_device(data.get("device"), c)
    raw: Any = None
    if not c.errors:
        # Anything the field checks let through must still serialise (no NaN, no objects).
        # The copy kept is made through JSON as well: it goes as deep as the JSON parser
        # went, where copy.deepcopy ran out of stack at about a third of that.
        try:
            canonical_json(data)
            raw = json.loads(json.dumps(data, ensure_ascii=False))
        except RecursionError:
            c.error("submission", "is nested too deeply")
        except (TypeError, ValueError):
            c.error("submission", "must be plain JSON data")
    if c.errors or patient is None or health is None or signing is None:
        raise SubmissionInvalid(c.errors)
    typed_name, pad, guardian, signed_at, witness = signing
    return Submission(
        form_id=definition.id,
        patient=patient,
        health=health,
        screening=screening,
        acknowledgments=acknowledgments,
        typed_name=typed_name,
        signature=pad,
        guardian=guardian,
        signed_at=signed_at,
        device=device,
        # A copy, so that changing the caller's data later cannot change this submission's hash.
        raw=raw,
        witness=witness,
        language=language,
    )
