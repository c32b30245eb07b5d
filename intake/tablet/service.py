"""The tablet flow as plain Python: saving steps, building the submission, submitting once.

Nothing here imports Flask: the views pass in the stores, the catalog and the request's device.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select

from intake.archive.audit import Actor
from intake.archive.models import ARCHIVED, Consent
from intake.archive.service import Archive
from intake.archive.submitting import submit_consent
from intake.definition import FormCatalog
from intake.email_address import EMAIL_MAX
from intake.languages import DEFAULT_LANGUAGE
from intake.submission import (
    ADDRESS_MAX,
    ADULT_AGE,
    LONG_TEXT_MAX,
    NAME_MAX,
    PHONE_MAX,
    POINTS_PER_STROKE_MAX,
    POINTS_TOTAL_MAX,
    RELATIONSHIP_MAX,
    SHORT_TEXT_MAX,
    STROKES_MAX,
    FieldError,
    SubmissionInvalid,
    age_on,
    validate_submission,
)
from intake.tablet.drafts import Draft, Drafts

#: The steps that collect answers, in order; the welcome comes before and the review after.
STEPS = ("details", "health", "consent", "sign")

#: The steps whose text the patient signs: both must be read in the language of the review.
READ_STEPS = ("consent", "sign")

#: Which step asks for each top-level part of the submission.
STEP_OF_PART = {
    "patient": "details",
    "health": "health",
    "screening": "health",
    "acknowledgments": "consent",
    "signature": "sign",
    "guardian": "sign",
    "signed_at": "sign",
}


#: The longest text each answer may be (the checks' limits, by its path in the submission); a
#: longer answer is refused, and the draft keeps it only up to this length.
TEXT_MAX = {
    "patient.legal_name": NAME_MAX,
    "patient.preferred_name": NAME_MAX,
    "patient.date_of_birth": len("YYYY-MM-DD"),
    "as_typed.date_of_birth": len("MM/DD/YYYY"),
    "patient.phone": PHONE_MAX,
    "patient.email": EMAIL_MAX,
    "patient.address": ADDRESS_MAX,
    "patient.primary_physician": SHORT_TEXT_MAX,
    "patient.emergency_contact.name": NAME_MAX,
    "patient.emergency_contact.phone": PHONE_MAX,
    "patient.emergency_contact.relationship": RELATIONSHIP_MAX,
    "health.allergies": LONG_TEXT_MAX,
    "health.medications": LONG_TEXT_MAX,
    "health.conditions": LONG_TEXT_MAX,
    "signature.typed_name": NAME_MAX,
    "guardian.name": NAME_MAX,
    "guardian.relationship": RELATIONSHIP_MAX,
}
#: A step whose post is this many times over a limit is no patient's typing: nothing of it is
#: kept.
FAR_OVER = 4
#: The keys of a signature pad in the answers.
_PAD = ("width", "height", "strokes")


class FarOverLimits(Exception):
    """A step's answers are far beyond what any field accepts."""


class SubmitRefused(Exception):
    """The submit does not belong to a live draft: wiped, expired, or sent from an old page."""


def record_step(drafts: Drafts, draft: Draft, step: str, part: dict[str, Any], ok: bool) -> None:
    """Keep what the patient entered on `step` (valid or not, each answer cut to its field's
    limit), and whether it passed. A post far over the limits keeps nothing (its fields' errors
    say why); one that would make the draft too large raises `DraftTooLarge`, the draft as it
    was."""
    try:
        kept = bounded(part)
    except FarOverLimits:
        return
    answers = {**draft.answers, **kept}
    done = [s for s in draft.done_steps if s != step] + ([step] if ok else [])
    saved = Draft(**{**vars(draft), "answers": answers, "done_steps": done})
    drafts.save(saved)
    draft.answers, draft.done_steps, draft.updated_at = answers, done, saved.updated_at


def bounded(part: dict[str, Any], path: str = "") -> dict[str, Any]:
    """`part` with each text cut to its limit and each signature pad over its limits left
    empty; `FarOverLimits` when something is `FAR_OVER` times a limit."""
    kept: dict[str, Any] = {}
    for key, value in part.items():
        where = f"{path}{key}"
        if isinstance(value, str):
            limit = TEXT_MAX.get(where, SHORT_TEXT_MAX)
            if len(value) > FAR_OVER * limit:
                raise FarOverLimits
            kept[key] = value.strip()[:limit] if len(value) > limit else value
        elif isinstance(value, dict):
            rest = bounded({k: v for k, v in value.items() if k not in _PAD}, f"{where}.")
            is_pad = any(k in value for k in _PAD)
            kept[key] = {**rest, **_bounded_pad(value)} if is_pad else rest
        else:
            kept[key] = value
    return kept


def _bounded_pad(pad: dict[str, Any]) -> dict[str, Any]:
    """A pad as the draft keeps it: its strokes when they are within the pad's limits and made
    of [x, y] numbers, else none (the patient signs again, as the check asks anyway)."""
    strokes = pad.get("strokes")
    size = {k: v for k, v in pad.items() if k in ("width", "height") and _number(v)}
    if not isinstance(strokes, list):
        return {**size, "strokes": []}
    points = sum(len(s) if isinstance(s, list) else 1 for s in strokes)
    if len(strokes) > FAR_OVER * STROKES_MAX or points > FAR_OVER * POINTS_TOTAL_MAX:
        raise FarOverLimits
    usable = (
        len(strokes) <= STROKES_MAX
        and points <= POINTS_TOTAL_MAX
        and all(
            isinstance(s, list)
            and len(s) <= POINTS_PER_STROKE_MAX
            and all(isinstance(p, list) and len(p) == 2 and all(map(_number, p)) for p in s)
            for s in strokes
        )
    )
    return {**size, "strokes": strokes if usable else []}


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def next_step_to_fill(draft: Draft, step: str) -> str | None:
    """The first step before `step` still to be filled in, or None when `step` may be shown."""
    order = [*STEPS, "review"]
    return next((s for s in order[: order.index(step)] if s not in draft.done_steps), None)


def parse_date(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def is_minor(date_of_birth: Any, on: date) -> bool:
    """Whether a patient born on `date_of_birth` (YYYY-MM-DD) is under 18 on `on`."""
    born = parse_date(date_of_birth)
    return born is not None and born <= on and age_on(born, on) < ADULT_AGE


def signing_time(timezone: str = "") -> datetime:
    """Now, in the clinic's time zone (the server's when none is set), to the second."""
    now = datetime.now(ZoneInfo(timezone)) if timezone else datetime.now().astimezone()
    return now.replace(microsecond=0)


def read_in_another_language(draft: Draft, language: str) -> str | None:
    """The first step of `READ_STEPS` the patient answered in another language than
    `language` (they switched since), or None when they read both in it."""
    read_in = draft.answers.get("read_in") or {}
    return next((s for s in READ_STEPS if read_in.get(s, language) != language), None)


def submission_data(draft: Draft, device: dict[str, str]) -> dict[str, Any]:
    """The draft as a submission in the documented JSON format, ready for `validate_submission`.
    `language` is there when the patient read the consent in another language than English."""
    answers = draft.answers
    patient = answers.get("patient") or {}
    signed = datetime.fromisoformat(answers["signed_at"]) if answers.get("signed_at") else None
    minor = signed is not None and is_minor(patient.get("date_of_birth"), signed.date())
    language = (answers.get("read_in") or {}).get("consent", DEFAULT_LANGUAGE)
    return {
        "form": draft.form_id,
        "patient": patient,
        "health": answers.get("health") or {},
        "screening": answers.get("screening") or {},
        "acknowledgments": answers.get("acknowledgments") or {},
        "signature": answers.get("signature") or {},
        "guardian": answers.get("guardian") if minor else None,
        "signed_at": answers.get("signed_at"),
        "device": device,
    } | ({"language": language} if language != DEFAULT_LANGUAGE else {})


def submit(
    drafts: Drafts,
    draft_id: str | None,
    token: str,
    *,
    catalog: FormCatalog,
    archive: Archive,
    actor: Actor,
    device: dict[str, str],
    copy_ttl: float,
    language: str = DEFAULT_LANGUAGE,
) -> Draft:
    """Validate and archive the consent once; a repeated submit returns the same receipt.

    The consent is committed to the archive before the answers leave the draft, under a key
    made from the draft and its submit token: if the process dies in between, the same submit
    sent again finds that consent instead of archiving a second one.

    Raises `SubmitRefused` for a stale or foreign token and `SubmissionInvalid` for bad answers.
    """
    if drafts.get(draft_id) is None:
        raise SubmitRefused
    assert draft_id is not None
    with drafts.locked(draft_id):
        draft = drafts.get(draft_id)
        if draft is None or not secrets.compare_digest(token.encode(), draft.submit_token.encode()):
            raise SubmitRefused
        if draft.submitted:
            return draft
        if missing := next_step_to_fill(draft, "review"):
            # A step refused since the review was shown (its answers kept cut to their limits,
            # which may pass the checks): the patient sees that step again first.
            raise SubmissionInvalid([FieldError(missing, "is not finished")])
        if other := read_in_another_language(draft, language):
            # The review was shown in another language than the consent was read in.
            raise SubmissionInvalid([FieldError(other, "was read in another language")])
        submission = validate_submission(submission_data(draft, device), catalog)
        key = hashlib.sha256(f"{draft.id}:{draft.submit_token}".encode()).hexdigest()
        submitted = submit_consent(archive, submission, actor, key=key, copy_ttl=copy_ttl)
        draft.answers = {}
        draft.done_steps = []
        draft.consent_id = submitted.consent_id
        draft.copy_token, draft.copy_code = submitted.copy_token, submitted.copy_code
        draft.copy_expires_at = drafts.clock() + copy_ttl
        drafts.save(draft)
        return draft


def patient_copy_available(drafts: Drafts, draft: Draft) -> bool:
    """Whether the thank-you screen still offers the link to the patient's copy."""
    return (
        draft.copy_token is not None
        and draft.copy_expires_at is not None
        and drafts.clock() <= draft.copy_expires_at
    )


#: A consent's status alone (the thank-you page needs no more of its row).
_STATUS = select(Consent.__table__.c.status).where(Consent.__table__.c.id == bindparam("id"))


def copy_ready(archive: Archive, draft: Draft) -> bool:
    """Whether the sealed PDF exists (making it may have failed; staff then see it pending)."""
    if draft.consent_id is None:
        return False
    with archive.sessions.reader.connect() as connection:
        status = connection.execute(_STATUS, {"id": draft.consent_id}).scalar()
    return status == ARCHIVED


def copy_until(draft: Draft, timezone: str = "") -> str:
    """When the patient's copy link stops working, as the clinic's clock shows it ("10:25")."""
    if draft.copy_expires_at is None:
        return ""
    zone = ZoneInfo(timezone) if timezone else None
    return datetime.fromtimestamp(draft.copy_expires_at, zone).strftime("%H:%M")
