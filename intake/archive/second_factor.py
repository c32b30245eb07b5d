"""The second factor of a staff login: a TOTP code (RFC 6238, `pyotp`) from an authenticator
app, or one of ten single-use recovery codes (OWASP ASVS 4, 2.8 and 2.6).

Enrolment makes a secret that stays unconfirmed until a code from the app proves it was taken
up; only then does a login ask for codes. A code is accepted for its 30-second step and one
step either side (clocks drift), and never again once a code of that step or a later one was
used, so a code read over a shoulder cannot be replayed. Recovery codes are random, shown once,
and kept only as their SHA-256. The TOTP secret itself is kept in the database as the
authenticator holds it: the login needs it in the clear, and the database is as private as the
password hashes beside it (owner-only files, encrypted backups).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

import pyotp
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from intake.archive.models import RecoveryCode, SecondFactor

ISSUER = "Clinic consents"
RECOVERY_CODES = 10
#: Steps either side of now whose code is accepted.
DRIFT_STEPS = 1
#: Recovery codes: 10 characters of an alphabet without look-alikes (about 50 bits each).
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def confirmed(session: Session, staff_id: str) -> SecondFactor | None:
    row = session.get(SecondFactor, staff_id)
    return row if row is not None and row.confirmed_at is not None else None


def start(session: Session, staff_id: str, now: datetime) -> SecondFactor:
    """The enrolment's secret: a new one, unless one is already waiting for its first code."""
    row = session.get(SecondFactor, staff_id)
    if row is None:
        row = SecondFactor(staff_id=staff_id, secret=pyotp.random_base32(), created_at=now)
        session.add(row)
        session.flush()
    return row


def provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def accept_code(row: SecondFactor, code: str, now: datetime) -> bool:
    """Whether `code` is this secret's for a step near `now` not used before; marks it used."""
    code = "".join(code.split())
    if not (len(code) == 6 and code.isdigit()):
        return False
    totp = pyotp.TOTP(row.secret)
    now_step = totp.timecode(now)
    for step in range(now_step - DRIFT_STEPS, now_step + DRIFT_STEPS + 1):
        if row.last_step is not None and step <= row.last_step:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            row.last_step = step
            return True
    return False


def _recovery_sha256(code: str) -> str:
    normal = "".join(code.lower().split()).replace("-", "")
    return hashlib.sha256(normal.encode()).hexdigest()


def new_recovery_codes(session: Session, staff_id: str) -> list[str]:
    """Ten new recovery codes (the old ones stop working), to be shown once."""
    session.execute(delete(RecoveryCode).where(RecoveryCode.staff_id == staff_id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
        session.add(RecoveryCode(code_sha256=_recovery_sha256(raw), staff_id=staff_id))
    return codes


def use_recovery_code(session: Session, staff_id: str, code: str, now: datetime) -> bool:
    """Whether `code` is one of the account's unused recovery codes; it is used up if so."""
    if not 8 <= len(code) <= 40:
        return False
    row = session.execute(
        select(RecoveryCode)
        .where(RecoveryCode.code_sha256 == _recovery_sha256(code))
        .with_for_update()
    ).scalar_one_or_none()
    if row is None or row.staff_id != staff_id or row.used_at is not None:
        return False
    row.used_at = now
    return True


def unused_recovery_codes(session: Session, staff_id: str) -> int:
    return len(
        session.scalars(
            select(RecoveryCode.code_sha256).where(
                RecoveryCode.staff_id == staff_id, RecoveryCode.used_at.is_(None)
            )
        ).all()
    )


def remove(session: Session, staff_id: str) -> None:
    session.execute(delete(RecoveryCode).where(RecoveryCode.staff_id == staff_id))
    session.execute(delete(SecondFactor).where(SecondFactor.staff_id == staff_id))
