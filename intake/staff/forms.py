"""The staff pages' forms. Each carries its fields and CSRF token; the account rules (password
length, one account per email, the roles) live in `intake.archive.staff`, whose `StaffError`
names the field to show its message at (`show_error`).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    Field,
    HiddenField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, DataRequired, EqualTo, Length, Optional, ValidationError
from wtforms.widgets import DateInput, EmailInput

from intake.archive.marks import VOID_REASON_MAX
from intake.archive.models import ROLES
from intake.archive.passwords import PASSWORD_MAX, PASSWORD_MIN
from intake.archive.search import SearchCriteria
from intake.archive.service import NOTE_MAX
from intake.archive.staff import StaffError
from intake.email_address import EMAIL_MAX
from intake.i18n import gettext, lazy_gettext, say
from intake.staff.filters import ROLE_NAMES


class Day(DateField):
    """A calendar date typed or picked as YYYY-MM-DD; an impossible one is named as such."""

    widget = DateInput()

    def process_formdata(self, valuelist: list[Any]) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError:
            self.data = None
            raise ValueError(
                gettext("%(field)s must be a real date, written YYYY-MM-DD", field=self.label.text)
            ) from None


def show_error(form: FlaskForm, error: StaffError) -> None:
    """Put an account rule's message at the field it names (or at the top of the form)."""
    field: Field | None = form._fields.get(error.field)
    # The rule's words in the page's language when the catalog has them (else as written).
    message = say(error.message)
    if field is None:
        form.form_errors.append(message)
    else:
        field.errors = [*field.errors, f"{field.label.text} {message}"]


def role_choices() -> list[SelectChoice]:
    """The roles, each shown by its name in the page's language (`filters.ROLE_NAMES`)."""
    return [SelectChoice(role, lazy_gettext(ROLE_NAMES[role])) for role in ROLES]


class LoginForm(FlaskForm):
    email = StringField(
        lazy_gettext("Email"),
        widget=EmailInput(),
        validators=[DataRequired(lazy_gettext("Enter your email.")), Length(max=EMAIL_MAX)],
        render_kw={"autocomplete": "username", "autocapitalize": "off", "spellcheck": "false"},
    )
    password = PasswordField(
        lazy_gettext("Password"),
        validators=[DataRequired(lazy_gettext("Enter your password.")), Length(max=PASSWORD_MAX)],
        render_kw={"autocomplete": "current-password"},
    )


class SearchForm(FlaskForm):
    """The consent search; `needs_review` is removed for staff below clinician."""

    name = StringField(
        lazy_gettext("Name"),
        validators=[Length(max=200)],
        description=lazy_gettext("Accents and case don't matter."),
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )
    date_of_birth = Day(lazy_gettext("Date of birth"), validators=[Optional()])
    signed_from = Day(lazy_gettext("Signed from"), validators=[Optional()])
    signed_to = Day(lazy_gettext("Signed to"), validators=[Optional()])
    needs_review = BooleanField(lazy_gettext("Flagged, not yet reviewed"))

    @classmethod
    def initial(cls, criteria: SearchCriteria) -> dict[str, Any]:
        return {
            "name": criteria.name,
            "date_of_birth": criteria.date_of_birth,
            "signed_from": criteria.signed_from,
            "signed_to": criteria.signed_to,
            "needs_review": criteria.needs_review,
        }

    def validate_signed_to(self, field: Day) -> None:
        start: date | None = self.signed_from.data
        if field.data and start and field.data < start:
            raise ValidationError(
                gettext(
                    "%(field)s must be on or after the “Signed from” date", field=field.label.text
                )
            )

    def criteria(self) -> SearchCriteria:
        return SearchCriteria(
            name=" ".join((self.name.data or "").split()),
            date_of_birth=self.date_of_birth.data,
            signed_from=self.signed_from.data,
            signed_to=self.signed_to.data,
            needs_review="needs_review" in self and bool(self.needs_review.data),
        )

    @property
    def has_errors(self) -> bool:
        return bool(self.errors)


class ReviewForm(FlaskForm):
    note = TextAreaField(
        lazy_gettext("Review note"),
        validators=[
            DataRequired(lazy_gettext("Write a review note.")),
            Length(
                max=NOTE_MAX,
                message=lazy_gettext("A review note can be at most %(n)s characters.", n=NOTE_MAX),
            ),
        ],
        description=lazy_gettext(
            "What you checked and decided. It is kept beside the signed PDF, which is "
            "never changed."
        ),
    )


class StartSessionForm(FlaskForm):
    #: The consent form for the patient; the choices are the forms the tablet offers.
    form_id = SelectField(lazy_gettext("Form"), validate_choice=True)


class NewStaffForm(FlaskForm):
    name = StringField(lazy_gettext("Name"), render_kw={"autocomplete": "off"})
    email = StringField(
        lazy_gettext("Email"),
        widget=EmailInput(),
        render_kw={"autocomplete": "off", "autocapitalize": "off"},
    )
    role = SelectField(lazy_gettext("Role"), choices=role_choices(), default="front-desk")
    password = PasswordField(
        lazy_gettext("Initial password"),
        description=lazy_gettext(
            "At least %(n)s characters, not a common one. Tell it to them in person; they can be "
            "given a new one here at any time.",
            n=PASSWORD_MIN,
        ),
        render_kw={"autocomplete": "new-password"},
    )


class FirstAdminForm(FlaskForm):
    """The first admin's own account, made with the one-time setup link."""

    name = StringField(lazy_gettext("Your name"), render_kw={"autocomplete": "name"})
    email = StringField(
        lazy_gettext("Your email"),
        widget=EmailInput(),
        render_kw={"autocomplete": "username", "autocapitalize": "off", "spellcheck": "false"},
    )
    password = PasswordField(
        lazy_gettext("Password"),
        description=lazy_gettext(
            "At least %(n)s characters, not a common or leaked password.", n=PASSWORD_MIN
        ),
        render_kw={"autocomplete": "new-password"},
    )


class RoleForm(FlaskForm):
    role = SelectField(lazy_gettext("Role"), choices=role_choices())


class PasswordForm(FlaskForm):
    password = PasswordField(
        lazy_gettext("New password"),
        description=lazy_gettext(
            "At least %(n)s characters, not a common or leaked password. Every login of this "
            "account ends.",
            n=PASSWORD_MIN,
        ),
        render_kw={"autocomplete": "new-password"},
    )


class ActiveForm(FlaskForm):
    #: "on" to let the account log in again, "off" to switch it off.
    state = HiddenField(validators=[AnyOf(("on", "off"))])


class ConfirmForm(FlaskForm):
    """A form with nothing but its CSRF token: the button is the decision."""


#: What every new password must be, shown beside its field (the rules are in
#: `intake.archive.passwords`).
NEW_PASSWORD_HINT = lazy_gettext(
    "At least %(n)s characters, not a common or leaked password. A phrase of a few unrelated "
    "words is easy to remember and hard to guess.",
    n=PASSWORD_MIN,
)


class CodeForm(FlaskForm):
    """The second step of a login, or the first code of a new authenticator."""

    code = StringField(
        lazy_gettext("Code"),
        validators=[DataRequired(lazy_gettext("Type the code.")), Length(max=40)],
        description=lazy_gettext(
            "The 6 digits your authenticator app shows now, or one of your recovery codes."
        ),
        render_kw={
            "autocomplete": "one-time-code",
            "inputmode": "text",
            "autocapitalize": "off",
            "spellcheck": "false",
        },
    )


class ReauthForm(FlaskForm):
    """Proof, again, of who holds this login, before an account or retention change."""

    password = PasswordField(
        lazy_gettext("Your password"),
        validators=[DataRequired(lazy_gettext("Enter your password.")), Length(max=PASSWORD_MAX)],
        render_kw={"autocomplete": "current-password"},
    )
    code = StringField(
        lazy_gettext("Code from your app"),
        validators=[Length(max=40)],
        description=lazy_gettext(
            "The 6 digits your authenticator app shows now, or a recovery code."
        ),
        render_kw={"autocomplete": "one-time-code", "autocapitalize": "off"},
    )
    next = HiddenField()


class OwnPasswordForm(FlaskForm):
    """A staff member's own new password: the current one, then the new one twice."""

    current_password = PasswordField(
        lazy_gettext("Current password"),
        validators=[
            DataRequired(lazy_gettext("Enter your current password.")),
            Length(max=PASSWORD_MAX),
        ],
        render_kw={"autocomplete": "current-password"},
    )
    password = PasswordField(
        lazy_gettext("New password"),
        validators=[DataRequired(lazy_gettext("Choose a new password."))],
        description=NEW_PASSWORD_HINT,
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        lazy_gettext("New password again"),
        validators=[EqualTo("password", lazy_gettext("The two new passwords are not the same."))],
        render_kw={"autocomplete": "new-password"},
    )


class VoidForm(FlaskForm):
    """An admin voids a consent taken by mistake or forged; the reason is kept with it."""

    reason = TextAreaField(
        lazy_gettext("Why is this consent void?"),
        description=lazy_gettext(
            "For example “Taken by mistake: the patient signed twice” or “Not signed by this "
            "patient”. Kept with the consent and shown on its page."
        ),
        validators=[
            DataRequired(message=lazy_gettext("Write why this consent is void.")),
            Length(
                max=VOID_REASON_MAX,
                message=lazy_gettext(
                    "The reason can be at most %(n)s characters.", n=VOID_REASON_MAX
                ),
            ),
        ],
    )
