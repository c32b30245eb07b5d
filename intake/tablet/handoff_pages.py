"""What the tablet's pages for a patient staff sent to it share (the visit check-in and the
withdrawal): opening in the language the patient read their consent in, the signing page with
the pad, and the thank-you page that clears itself."""

from __future__ import annotations

from typing import Any

from flask import current_app, render_template, session
from flask.typing import ResponseReturnValue

from intake.i18n import LANGUAGES, locale
from intake.submission import SIGNATURE_MIN_EXTENT
from intake.tablet.forms import PAD_HEIGHT, PAD_WIDTH
from intake.tablet.routes import catalog


def patient_language(
    marker: str, handoff_id: str, language: str | None, form_id: str
) -> tuple[Any, str | None]:
    """The languages the form offers and the one this page speaks. The page opens once in the
    language of the patient's consent (`marker` in the session remembers for which hand-off);
    after that the page's language switch decides."""
    if session.get(marker) != handoff_id:
        session[marker] = handoff_id
        if language in LANGUAGES:
            session["lang"] = language
    offered = catalog().languages(form_id)
    return offered, (locale() if locale() in offered else None)


def signing_page(
    template: str, form: Any, first_name: str, page_title: str, offered: Any, **context: Any
) -> ResponseReturnValue:
    """A page that ends with the signature pad, greeting the patient by first name only."""
    return render_template(
        template,
        form=form,
        first_name=first_name,
        pad_width=PAD_WIDTH,
        pad_height=PAD_HEIGHT,
        min_extent=max(10.0, SIGNATURE_MIN_EXTENT * PAD_WIDTH),
        page_title=page_title,
        in_flow=True,
        switch_language=True,
        offered_languages=offered,
        **context,
    ), 422 if form.has_errors else 200


def done_page(template: str, page_title: str) -> ResponseReturnValue:
    """The thank-you page, cleared after the clinic's few seconds."""
    return render_template(
        template,
        page_title=page_title,
        idle_seconds=current_app.config["DONE_CLEAR_SECONDS"],
        idle_warning_seconds=0,
        in_flow=True,
    )
