"""The tablet forms' fields and inputs: WTForms' own, writing an input's attributes faster.

WTForms writes each attribute of an `<input>` with `Markup.format`, a Python string formatter
that escapes through `string.Formatter`: on a step page with 30 radio buttons that was a third
of the page's cost. `html_params` here gives the same attributes, in the same (sorted) order,
escaped the same way; each WTForms input class takes it through its `html_params` hook, and the
fields here are WTForms' own with those inputs. `tests/test_tablet_widgets.py` holds the two to
the same output.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape
from wtforms import fields, widgets


def html_params(**kwargs: Any) -> Markup:
    """`wtforms.widgets.html_params`: `key="value"` pairs sorted by key; a trailing `_` is
    dropped (`class_`), `data_`/`aria_` keys get hyphens, True is a bare attribute, False none."""
    params = []
    for key, value in sorted(kwargs.items()):
        key = widgets.core.clean_key(key)
        if value is True:
            params.append(str(escape(key)))
        elif value is not False:
            params.append(f'{escape(key)}="{str(escape(value)).replace(chr(34), "&quot;")}"')
    return Markup(" ".join(params))


class TextInput(widgets.TextInput):
    html_params = staticmethod(html_params)


class TelInput(widgets.TelInput):
    html_params = staticmethod(html_params)


class EmailInput(widgets.EmailInput):
    html_params = staticmethod(html_params)


class PasswordInput(widgets.PasswordInput):
    html_params = staticmethod(html_params)


class HiddenInput(widgets.HiddenInput):
    html_params = staticmethod(html_params)


class CheckboxInput(widgets.CheckboxInput):
    html_params = staticmethod(html_params)


class RadioInput(widgets.RadioInput):
    html_params = staticmethod(html_params)


class StringField(fields.StringField):
    widget = TextInput()


class PasswordField(fields.PasswordField):
    widget = PasswordInput()


class HiddenField(fields.HiddenField):
    widget = HiddenInput()


class BooleanField(fields.BooleanField):
    widget = CheckboxInput()


class RadioField(fields.RadioField):
    option_widget = RadioInput()


#: Written by WTForms' own `TextArea`, which takes no `html_params` hook (a few a page).
TextAreaField = fields.TextAreaField
