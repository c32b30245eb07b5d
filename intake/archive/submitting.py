"""A tablet's submit: `Archive.submit` and the patient's copy link, in two commits.

The order of writes stays `Archive`'s (see its module): the pending row is committed before
the PDF is made, and the archived row after the PDF is durable. Around them, what a submit
used to do in transactions and sessions of their own goes into those two: the copy link's row
(and the wiping of expired codes) and the tablet's name are written and read with the pending
row, and the count of consents waiting for storage is read with the archived one. The
submission the row was made from renders the PDF as it is, rather than read back and checked
again. A submit sent again for a consent accepted already finds it by its key, finishes it if
it is still pending, and offers a new link, as before.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from intake.archive.audit import Actor
from intake.archive.copies import add_copy, offer_copy
from intake.archive.models import Consent, Tablet
from intake.archive.service import Archive
from intake.submission import Submission


@dataclass
class Accepted:
    """A consent this process has just committed as pending, with what it was made from."""

    consent: Consent
    submission: Submission
    #: The name of the tablet it was taken on ("" for none), read in the same transaction.
    tablet: str
    archive: Archive
    #: Whether another consent waits for storage, read when this one's PDF was stored.
    waiting: bool = False

    def sealed_pdf(self) -> bytes:
        return self.archive._sealed_pdf(
            self.consent, submission=self.submission, tablet=self.tablet
        )

    def check_waiting(self, session: Session) -> None:
        self.waiting = self.archive._storage_waiting(session)


@dataclass(frozen=True)
class Submitted:
    """The consent a submit archived (or left pending) and its copy link's token and code."""

    consent_id: str
    copy_token: str
    copy_code: str


def submit_consent(
    archive: Archive, submission: Submission, actor: Actor, *, key: str, copy_ttl: float
) -> Submitted:
    """Accept, then finish, as `Archive.submit` does, and offer the patient's copy
    (`copies.offer_copy`). Raises `ArchiveUnavailable` only when the consent could not be
    accepted at all."""
    made: list[tuple[Accepted, tuple[str, str]]] = []

    def with_copy(session: Session, consent: Consent) -> None:
        # Neither the tablet's row nor another consent's links depend on the rows waiting to
        # be written: they all go in at the commit, in one flush.
        with session.no_autoflush:
            tablet = session.get(Tablet, consent.device_id) if consent.device_id else None
            accepted = Accepted(consent, submission, tablet.name if tablet else "", archive)
            made.append((accepted, add_copy(session, consent.id, consent.created_at, copy_ttl)))

    consent_id = archive.accept(submission, actor, key=key, also=with_copy)
    if not made or made[-1][0].consent.id != consent_id:
        # Accepted before, under the same key: finished as `Archive.submit` does, a new link.
        if archive.finish(consent_id, actor) and archive._storage_waiting():
            archive.retry_waiting_soon()
        return Submitted(consent_id, *offer_copy(archive, consent_id, copy_ttl))
    accepted, (token, code) = made[-1]
    if archive._finish(consent_id, actor, accepted) is None and accepted.waiting:
        # This store just showed storage works again: finish those that waited for it.
        archive.retry_waiting_soon()
    return Submitted(consent_id, token, code)
