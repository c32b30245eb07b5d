"""What the staff pages read beyond `Archive` and `Accounts`: a page of the audit trail with the
staff it names, and a consent's answers laid out for reading. No Flask here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from intake.archive import audit
from intake.archive.audit import ChainReport
from intake.archive.models import AuditEvent, Consent, Staff
from intake.archive.service import Archive, submission_of
from intake.definition import ConsentDefinition, FormCatalog
from intake.submission import NOT_SURE, ScreeningFlag, screening_flags

AUDIT_PAGE_SIZE = 50
#: The most rows of the hash chain one view of the audit page checks beyond the kept checkpoint
#: (some 25 ms); `intake audit verify` checks them all at once.
AUDIT_CHECK_PER_VIEW = 500


# --- the audit trail -------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditPage:
    chain: ChainReport
    events: list[AuditEvent]
    #: Staff names by id, for every staff member the page names.
    names: dict[str, str]
    #: Where the next (older) page starts, or None on the last page.
    before: int | None


def audit_page(archive: Archive, before: int | None = None) -> AuditPage:
    """One page of the trail by keyset (rows older than `before`), and the chain's verdict from
    the kept checkpoint extended by at most AUDIT_CHECK_PER_VIEW rows."""
    with archive.transaction() as session:
        chain = audit.check_since_checkpoint(session, AUDIT_CHECK_PER_VIEW)
        events = audit.page(session, before=before, limit=AUDIT_PAGE_SIZE + 1)
        more = len(events) > AUDIT_PAGE_SIZE
        events = events[:AUDIT_PAGE_SIZE]
        ids = {e.staff_id for e in events if e.staff_id} | {e.target for e in events}
        names = dict(session.execute(select(Staff.id, Staff.name).where(Staff.id.in_(ids))).all())
    return AuditPage(chain, events, names, events[-1].seq if more and events else None)


# --- a consent as staff read it --------------------------------------------------------------


@dataclass(frozen=True)
class ScreeningAnswer:
    question: str
    #: True for "yes", False for "no", `NOT_SURE`, None when the patient's answer is missing.
    answer: bool | str | None
    #: The clinician flag for a "yes": its level and the reason (for staff only).
    flag: ScreeningFlag | None = None
    #: The question in the clinic's language, when the patient read it in another.
    clinic_question: str = ""


@dataclass(frozen=True)
class ConsentRecord:
    consent: Consent
    definition: ConsentDefinition | None
    #: The submission exactly as signed (answers, signature strokes, device).
    data: dict[str, Any]
    screening: list[ScreeningAnswer]
    acknowledgments: list[tuple[str, bool]]
    #: The form's text changed since this consent was signed (the PDF holds what was signed).
    form_changed: bool
    #: The text in the language the patient signed, when it is not the clinic's (else None).
    signed_text: ConsentDefinition | None = None


def consent_record(consent: Consent, catalog: FormCatalog) -> ConsentRecord:
    """The stored answers with each screening flag, in the order of the form's questions."""
    data = submission_of(consent)
    try:
        definition = catalog.get(consent.form_id)
    except KeyError:
        definition = None
    signed_text = definition
    if definition is not None and consent.language != definition.language:
        try:
            signed_text = catalog.get(consent.form_id, consent.language)
        except KeyError:
            signed_text = None
    answers = data.get("screening") or {}
    ticks = data.get("acknowledgments") or {}
    screening: list[ScreeningAnswer] = []
    acknowledgments: list[tuple[str, bool]] = []
    if definition is not None:
        flags = {flag.question_id: flag for flag in screening_flags(answers, definition)}
        # The patient's words first (the text they answered), the clinic's beside them.
        read = signed_text or definition
        screening = [
            ScreeningAnswer(
                read.question(q.id).question,
                _yes_no(answers.get(q.id)),
                flags.get(q.id),
                q.question if read is not definition else "",
            )
            for q in definition.screening
        ]
        acknowledgments = [(a.text, ticks.get(a.id) is True) for a in read.acknowledgments]
        asked = {q.id for q in definition.screening} | {a.id for a in definition.acknowledgments}
        answers = {k: v for k, v in answers.items() if k not in asked}
        ticks = {k: v for k, v in ticks.items() if k not in asked}
    # Answers to questions the form no longer asks, under their ids.
    screening += [ScreeningAnswer(qid, _yes_no(value)) for qid, value in answers.items()]
    acknowledgments += [(aid, value is True) for aid, value in ticks.items()]
    return ConsentRecord(
        consent=consent,
        definition=definition,
        data=data,
        screening=screening,
        acknowledgments=acknowledgments,
        form_changed=signed_text is None or signed_text.sha256 != consent.form_sha256,
        signed_text=signed_text if signed_text is not definition else None,
    )


def _yes_no(value: Any) -> bool | str | None:
    return value if isinstance(value, bool) or value == NOT_SURE else None
