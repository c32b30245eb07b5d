"""The forms of the course's staff pages: a lot, a lot's recall, and the injection record."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, PasswordField, RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from intake.archive.course_models import SIDES, SITES
from intake.archive.injections import TEXT_MAX
from intake.archive.lots import LIMITS, REASON_MAX
from intake.i18n import lazy_gettext
from intake.staff.forms import Day

REQUIRED = lazy_gettext("This field is required.")
#: Each site on each side, as one choice (`deltoid-left`); the picture's regions are these.
SITE_CHOICES = [SelectChoice(f"{site}-{side}") for site in SITES for side in SIDES]
TOO_LONG = lazy_gettext("This is too long.")


def _text(label: str, name: str, description: str = "") -> StringField:
    return StringField(
        label,
        description=description,
        validators=[DataRequired(REQUIRED), Length(max=LIMITS[name], message=TOO_LONG)],
    )


class LotForm(FlaskForm):
    """A lot an admin adds to the stock."""

    product = _text(
        lazy_gettext("Product"), "product", lazy_gettext("For example “Methylcobalamin injection”.")
    )
    strength = _text(lazy_gettext("Strength"), "strength", lazy_gettext("For example “1 mg/ml”."))
    supplier = _text(lazy_gettext("Supplier or compounding pharmacy"), "supplier")
    lot_number = _text(lazy_gettext("Lot number"), "lot_number")
    #: Required too, which the lot's service says (a required-validator would hide the message
    #: of a date that does not exist).
    expires_on = Day(lazy_gettext("Expiry date"))


class RecallForm(FlaskForm):
    """A lot recalled: the reason is kept with it."""

    reason = TextAreaField(
        lazy_gettext("Why is this lot recalled?"),
        description=lazy_gettext("For example “Recalled by the pharmacy: contamination”."),
        validators=[DataRequired(REQUIRED), Length(max=REASON_MAX, message=TOO_LONG)],
    )


class InjectionForm(FlaskForm):
    """The injection as the clinician records it, signed with their password (and code)."""

    lot_id = RadioField(lazy_gettext("Lot"), choices=[], validate_choice=False)
    dose_mg = StringField(
        lazy_gettext("Dose (mg)"), render_kw={"inputmode": "decimal", "autocomplete": "off"}
    )
    volume_ml = StringField(
        lazy_gettext("Volume (ml)"), render_kw={"inputmode": "decimal", "autocomplete": "off"}
    )
    site = RadioField(lazy_gettext("Site"), choices=SITE_CHOICES, validate_choice=False)
    given_at = DateTimeLocalField(
        lazy_gettext("Given at"), format="%Y-%m-%dT%H:%M", validators=[Optional()]
    )
    notes = TextAreaField(
        lazy_gettext("Notes"), validators=[Length(max=TEXT_MAX, message=TOO_LONG)]
    )
    reaction = RadioField(lazy_gettext("Observation afterwards"), choices=[], validate_choice=False)
    reaction_action = TextAreaField(
        lazy_gettext("What was done"),
        description=lazy_gettext("Required when there was a reaction."),
        validators=[Length(max=TEXT_MAX, message=TOO_LONG)],
    )
    override_reason = TextAreaField(
        lazy_gettext("Why sooner than the course allows"),
        description=lazy_gettext(
            "Only when this injection comes sooner than the course's shortest interval: your "
            "reason is kept with the record and in the audit trail."
        ),
        validators=[Length(max=TEXT_MAX, message=TOO_LONG)],
    )
    password = PasswordField(
        lazy_gettext("Your password"),
        description=lazy_gettext("Your electronic signature of this record."),
        render_kw={"autocomplete": "current-password"},
    )
    code = StringField(
        lazy_gettext("Code from your app"),
        description=lazy_gettext("Only if your account has a second factor."),
        render_kw={"autocomplete": "one-time-code", "autocapitalize": "off"},
    )


class CorrectionForm(InjectionForm):
    correction_reason = TextAreaField(
        lazy_gettext("Why is the record corrected?"),
        validators=[Length(max=TEXT_MAX, message=TOO_LONG)],
    )
