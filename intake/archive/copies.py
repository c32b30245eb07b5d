"""The patient's own copy, on the patient's own phone.

The thank-you screen shows a QR code of a one-time link and a short code beside it. The phone
that opens the link gets the consent sealed again with the clinic's certificate and encrypted
under that code (AES-256), so nothing is saved on the shared tablet, and a link seen over a
shoulder without the code opens nothing. The link works once, for `PATIENT_COPY_TTL_SECONDS`.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from intake.archive import audit
from intake.archive.audit import Actor
from intake.archive.models import ARCHIVED, Consent, PatientCopy
from intake.archive.service import Archive
from intake.archive.staff import token_sha256

#: Letters and digits that cannot be mistaken for one another when read off a screen.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
#: Eight of them (40 bits), shown as two groups of four.
CODE_LENGTH = 8


class CopyGone(Exception):
    """The link is unknown, used, expired, or its consent has no sealed PDF; `used` says
    whether it was used already (the page says so rather than "expired")."""

    def __init__(self, used: bool = False) -> None:
        super().__init__("used" if used else "gone")
        self.used = used


def new_code() -> str:
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return f"{code[:4]}-{code[4:]}"


def offer_copy(archive: Archive, consent_id: str, ttl_seconds: float) -> tuple[str, str]:
    """A new one-time link for `consent_id`: its token and the code the copy opens with. The
    codes of links that expired are wiped on the way."""
    with archive.transaction() as session:
        return add_copy(session, consent_id, archive.clock(), ttl_seconds)


def add_copy(
    session: Session, consent_id: str, now: datetime, ttl_seconds: float
) -> tuple[str, str]:
    """`offer_copy` in the caller's transaction (the one that commits the consent, on a
    submit): the link's token and code."""
    token, code = secrets.token_urlsafe(32), new_code()
    session.execute(
        update(PatientCopy)
        .where(PatientCopy.expires_at < now, PatientCopy.code != "")
        .values(code="")
    )
    session.add(
        PatientCopy(
            token_sha256=token_sha256(token),
            consent_id=consent_id,
            code=code,
            created_at=now,
            expires_at=now + timedelta(seconds=ttl_seconds),
        )
    )
    return token, code


def take_copy(archive: Archive, token: str, actor: Actor) -> bytes:
    """The encrypted, sealed copy a link leads to, once; `CopyGone` after that."""
    sha256 = token_sha256(token) if 20 <= len(token) <= 100 else ""
    with archive.sessions() as session:
        row = session.get(PatientCopy, sha256) if sha256 else None
        consent = session.get(Consent, row.consent_id) if row is not None else None
    if row is not None and row.used_at is not None:
        raise CopyGone(used=True)
    if (
        row is None
        or consent is None
        or not row.code
        or row.expires_at <= archive.clock()
        or consent.status != ARCHIVED
    ):
        raise CopyGone
    pdf = archive._sealed_pdf(consent, password=row.code)
    with archive.transaction() as session:
        taken = session.execute(
            update(PatientCopy)
            .where(PatientCopy.token_sha256 == sha256, PatientCopy.used_at.is_(None))
            .values(used_at=archive.clock(), code="")
        ).rowcount
        if not taken:
            raise CopyGone(used=True)  # another request took it first
        audit.record(session, "consent downloaded", actor, consent.id)
    return pdf
