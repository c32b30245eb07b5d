"""The forms of the patient pages: the search, a merge, a withdrawal."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import Length, Optional

from intake.archive.patient_search import PatientCriteria
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
