"""The clinic's translator's review of a consent's translation, as an admin records it.

A translation file says of itself whether it was reviewed (`[translation] reviewed`); until it
says so, or an admin records here who reviewed that exact text (its SHA-256), staff pages mark
it "not yet reviewed". Recording a review is an audit event.
"""

from __future__ import annotations

from sqlalchemy import select

from intake.archive import audit
from intake.archive.audit import Actor
from intake.archive.models import utcnow
from intake.archive.service import Archive
from intake.archive.translation_models import TranslationReview
from intake.definition import ConsentDefinition, FormCatalog
from intake.languages import N_

REVIEWER_MAX = 200


class ReviewRefused(ValueError):
    """The review cannot be recorded: `template` (a catalog msgid) and `params` say why."""

    def __init__(self, template: str, **params: object) -> None:
        self.template = template
        self.params = params
        super().__init__(template % params if params else template)


def reviews(archive: Archive) -> dict[str, TranslationReview]:
    """Every recorded review, by the SHA-256 of the text reviewed."""
    with archive.sessions() as session:
        return {r.text_sha256: r for r in session.scalars(select(TranslationReview))}


def unreviewed(
    catalog: FormCatalog, known: dict[str, TranslationReview]
) -> list[ConsentDefinition]:
    """The current translations no one has reviewed yet: neither their file says so nor a
    recorded review holds their text's SHA-256."""
    found = []
    for form_id in catalog.ids():
        for language in catalog.languages(form_id)[1:]:
            text = catalog.get(form_id, language)
            if not is_reviewed(text, known):
                found.append(text)
    return found


def is_reviewed(text: ConsentDefinition, known: dict[str, TranslationReview]) -> bool:
    """Whether `text` needs no "not yet reviewed" mark (English is the clinic's own text)."""
    mark = text.translation
    return mark is None or mark.reviewed or text.sha256 in known


def record_review(
    archive: Archive, text: ConsentDefinition, reviewer: str, staff_id: str, actor: Actor
) -> TranslationReview:
    """Keep who reviewed `text` (a translation), and audit it; `ReviewRefused` for English, an
    empty or too long name, or a text whose review is already recorded."""
    reviewer = " ".join(reviewer.split())
    if text.translation is None:
        raise ReviewRefused(N_("only a translation is reviewed"))
    if not reviewer:
        raise ReviewRefused(N_("is required: the name of the translator who reviewed it"))
    if len(reviewer) > REVIEWER_MAX:
        raise ReviewRefused(N_("is too long (at most %(limit)s characters)"), limit=REVIEWER_MAX)
    with archive.transaction() as session:
        existing = session.scalar(
            select(TranslationReview).where(TranslationReview.text_sha256 == text.sha256)
        )
        if existing is not None:
            raise ReviewRefused(
                N_("was already recorded: reviewed by %(name)s"), name=existing.reviewer
            )
        review = TranslationReview(
            form_id=text.id,
            form_version=text.version,
            language=text.language,
            text_sha256=text.sha256,
            reviewer=reviewer,
            recorded_by=staff_id,
            recorded_at=utcnow(),
        )
        session.add(review)
        audit.record(
            session, "translation reviewed", actor, f"{text.id}.{text.language} {text.version}"
        )
    return review
