"""The tablet flow as plain Python: saving steps, building the submission, submitting once.

Nothing here imports Flask: the views pass in the stores, the catalog and the request's device.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from intake.archive.audit import Actor
from intake.archive.errors import ConsentMissing
from intake.archive.models import ARCHIVED
from intake.archive.service import Archive
from intake.definition import FormCatalog
from intake.submission import ADULT_AGE, age_on, validate_submission
from intake.tablet.drafts import Draft, Drafts

#: The steps that collect answers, in order; the welcome comes before and the review after.
STEPS = ("details", "health", "consent", "sign")

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


class SubmitRefused(Exception):
    """The submit does not belong to a live draft: wiped, expired, or sent from an old page."""


class CopyUnavailable(Exception):
    """The patient-copy link was used already, has expired, or is not this tablet's."""


def record_step(drafts: Drafts, draft: Draft, step: str, part: dict[str, Any], ok: bool) -> None:
    """Keep what the patient entered on `step` (valid or not), and whether it passed."""
    draft.answers.update(part)
    if ok and step not in draft.done_steps:
        draft.done_steps.append(step)
    elif not ok and step in draft.done_steps:
        draft.done_steps.remove(step)
    drafts.save(draft)


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


def submission_data(draft: Draft, device: dict[str, str]) -> dict[str, Any]:
    """The draft as a submission in the documented JSON format, ready for `validate_submission`."""
    answers = draft.answers
    patient = answers.get("patient") or {}
    signed = datetime.fromisoformat(answers["signed_at"]) if answers.get("signed_at") else None
    minor = signed is not None and is_minor(patient.get("date_of_birth"), signed.date())
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
    }


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
        submission = validate_submission(submission_data(draft, device), catalog)
        key = hashlib.sha256(f"{draft.id}:{draft.submit_token}".encode()).hexdigest()
        consent_id = archive.submit(submission, actor, key=key)
        draft.answers = {}
        draft.done_steps = []
        draft.consent_id = consent_id
        draft.copy_token = secrets.token_urlsafe(32)
        draft.copy_expires_at = drafts.clock() + copy_ttl
        drafts.save(draft)
        return draft


def patient_copy_available(drafts: Drafts, draft: Draft) -> bool:
    return (
        draft.copy_token is not None
        and draft.copy_expires_at is not None
        and drafts.clock() <= draft.copy_expires_at
    )


def copy_ready(archive: Archive, draft: Draft) -> bool:
    """Whether the sealed PDF exists (making it may have failed; staff then see it pending)."""
    try:
        return draft.consent_id is not None and archive.get(draft.consent_id).status == ARCHIVED
    except ConsentMissing:
        return False


def take_patient_copy(
    drafts: Drafts, draft_id: str | None, token: str, archive: Archive, actor: Actor
) -> bytes:
    """The PDF for a one-time patient-copy link; the link stops working once used."""
    if drafts.get(draft_id) is None:
        raise CopyUnavailable
    assert draft_id is not None
    with drafts.locked(draft_id):
        draft = drafts.get(draft_id)
        if (
            draft is None
            or not patient_copy_available(drafts, draft)
            or not secrets.compare_digest(token.encode(), str(draft.copy_token).encode())
        ):
            raise CopyUnavailable
        assert draft.consent_id is not None
        pdf = archive.pdf(draft.consent_id)
        draft.copy_token = None
        drafts.save(draft)
        archive.record("consent downloaded", actor, draft.consent_id)
        return pdf
