"""The tablet's inputs write their attributes as WTForms does (`intake.tablet.widgets`)."""

from __future__ import annotations

import pytest
from flask_babel.speaklater import LazyString
from markupsafe import Markup
from wtforms.widgets import html_params as wtforms_html_params

from intake.tablet.widgets import html_params

CASES = [
    {"id": "q_x-0", "name": "q_x", "type": "radio", "value": "yes", "checked": True},
    {"name": "a", "readonly": False, "disabled": True, "class_": "wide", "for_": "b"},
    {"data_date_of_birth": "", "aria_describedby": "x-hint x-error", "data_pad_input": ""},
    {"value": 'Zoë "Z" <b>&amp; \' done', "placeholder": Markup('<i>"kept"</i>')},
    {"data_future": LazyString(lambda: 'a "quoted" <future>'), "rows": 3, "maxlength": 0},
    {"autocomplete": "off", "inputmode": "numeric", "spellcheck": "false", "value": None},
    {},
]


@pytest.mark.parametrize("attributes", CASES)
def test_the_same_attributes_as_wtforms(attributes):
    ours = html_params(**attributes)
    assert isinstance(ours, Markup)
    assert ours == wtforms_html_params(**attributes)
