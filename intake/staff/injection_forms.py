"""The forms of the course's staff pages: a lot, a lot's recall, and the injection record."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from intake.archive.lots import LIMITS, REASON_MAX
from intake.i18n import lazy_gettext
from intake.staff.forms import Day

REQUIRED = lazy_gettext("This field is required.")
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
