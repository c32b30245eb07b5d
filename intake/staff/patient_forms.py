"""The forms of the patient pages: the search, a merge, a withdrawal."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import RadioField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from intake.archive.patient_match import REASON_MAX
from intake.archive.patient_search import PatientCriteria
from intake.archive.withdrawals import REASON_MAX as WITHDRAWAL_REASON_MAX
from intake.i18n import lazy_gettext
from intake.staff.forms import Day


class PatientSearchForm(FlaskForm):
    name = StringField(
        lazy_gettext("Name"),
        validators=[Length(max=200)],
        description=lazy_gettext("Accents and case don't matter."),
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )
    date_of_birth = Day(lazy_gettext("Date of birth"), validators=[Optional()])

    def criteria(self) -> PatientCriteria:
        return PatientCriteria(" ".join((self.name.data or "").split()), self.date_of_birth.data)


class MergeForm(FlaskForm):
    """An admin merges this record into another, with a reason. The other record is picked
    from this record's possible matches or from a name search (`find`)."""

    find = StringField(
        lazy_gettext("Find the other record by name"),
        validators=[Length(max=200)],
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )
    other = RadioField(lazy_gettext("Merge into"), choices=[], validate_choice=False)
    reason = TextAreaField(
        lazy_gettext("Why are these records one person?"),
        description=lazy_gettext(
            "For example “The patient's new married name” or “Date of birth typed wrong at the "
            "first visit”. Kept with both records."
        ),
        validators=[Length(max=REASON_MAX)],
    )


#: The patient is not here to sign (`WithdrawalForm.present`); any other choice is the id of
#: the enrolled tablet they sign on.
NOT_PRESENT = "absent"


class WithdrawalForm(FlaskForm):
    """A clinician records that the patient withdrew a consent: sent to an enrolled tablet for
    the patient to sign there, or recorded without their signature when they are not here."""

    withdrawn_on = Day(
        lazy_gettext("Withdrawn on"),
        validators=[InputRequired(lazy_gettext("Give the day the patient withdrew."))],
    )
    reason = TextAreaField(
        lazy_gettext("Reason"),
        description=lazy_gettext(
            "In the patient's words where you can, e.g. “Stopping the treatment” or “Moving "
            "away”. Sealed into the withdrawal record."
        ),
        validators=[Length(max=WITHDRAWAL_REASON_MAX)],
    )
    present = RadioField(
        lazy_gettext("Where the patient signs"),
        choices=[],
        default=NOT_PRESENT,
        validate_choice=False,
    )


class CancelWithdrawalForm(FlaskForm):
    """The Cancel button of a withdrawal waiting on a tablet."""
