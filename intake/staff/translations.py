"""A consent's translations (admins): each language's text, whether the clinic's translator has
reviewed it, and recording who did. Until then every staff page marks the text "not yet
reviewed", and a consent signed in it says so on its page."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from wtforms import StringField

from intake.archive import translation_reviews
from intake.archive.web import get_archive
from intake.i18n import gettext, lazy_gettext, locale
from intake.languages import language_in_sentence, language_name_in
from intake.staff.auth import allow, current_staff
from intake.staff.pages import accounts, actor, bp, catalog, me


class TranslationReviewForm(FlaskForm):
    reviewer = StringField(
        lazy_gettext("Translator who reviewed it"),
        description=lazy_gettext("Their full name, as it should appear in the record."),
        render_kw={"autocomplete": "off"},
    )


@bp.context_processor
def translation_marks() -> dict[str, object]:
    """The translations not yet reviewed, for the notice on every staff page."""
    if current_staff() is None:
        return {"unreviewed_translations": []}
    known = translation_reviews.reviews(get_archive())
    return {"unreviewed_translations": translation_reviews.unreviewed(catalog(), known)}


@bp.app_template_filter("language_name")
def language_name_filter(language: str) -> str:
    """A language's name in the clinic's language ("Spanish")."""
    return language_name_in(language, locale())


@bp.app_template_filter("language_in_sentence")
def language_in_sentence_filter(language: str) -> str:
    """A language's name inside a sentence of the page's language ("en español")."""
    return language_in_sentence(language, locale())


def texts() -> list[tuple[object, object]]:
    """Every translation with its recorded review (or None)."""
    known = translation_reviews.reviews(get_archive())
    return [
        (text, known.get(text.sha256))
        for form_id in catalog().ids()
        for language in catalog().languages(form_id)[1:]
        for text in [catalog().get(form_id, language)]
    ]


def prefix(form_id: str, language: str) -> str:
    """Each translation's form has its own field names and ids on the page."""
    return f"{form_id}-{language}"


@bp.get("/translations")
@allow("admin")
def translations() -> ResponseReturnValue:
    return show()


def show(failed: TranslationReviewForm | None = None) -> ResponseReturnValue:
    names = {member.id: member.name for member in accounts().all()}
    forms = {
        prefix(text.id, text.language): TranslationReviewForm(
            prefix=prefix(text.id, text.language), formdata=None
        )
        for text, _review in texts()
    }
    if failed is not None:
        forms[failed._prefix.rstrip("-")] = failed
    return render_template(
        "staff/translations.html",
        texts=texts(),
        forms=forms,
        refused=failed.reviewer.errors if failed is not None else [],
        staff_names=names,
        page_title=gettext("Translations"),
        section="translations",
    ), 422 if failed else 200


@bp.post("/translations/<form_id>/<language>")
@allow("admin")
def review_translation(form_id: str, language: str) -> ResponseReturnValue:
    try:
        text = catalog().get(form_id, language)
    except KeyError:
        abort(404)
    form = TranslationReviewForm(prefix=prefix(form_id, language))
    if not form.validate_on_submit():
        abort(400)
    try:
        translation_reviews.record_review(
            get_archive(), text, form.reviewer.data or "", me().id, actor()
        )
    except translation_reviews.ReviewRefused as refused:
        problem = gettext(refused.template, **refused.params)
        form.reviewer.errors = [f"{form.reviewer.label.text} {problem}"]
        return show(failed=form)
    name = language_in_sentence(language, locale())
    flash(gettext("The review of the %(language)s text is recorded.", language=name))
    return redirect(url_for(".translations"))
