"""Configuration, read from the environment in one place."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _seconds(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


class Config:
    """Settings with defaults; an environment variable of the same name overrides each."""

    SECRET_KEY: str | None = os.environ.get("SECRET_KEY")
    FORMS_DIR: Path = Path(os.environ.get("FORMS_DIR", PROJECT_ROOT / "forms"))
    CLINIC_ADDRESS: str = os.environ.get("CLINIC_ADDRESS", "")
    CLINIC_PHONE: str = os.environ.get("CLINIC_PHONE", "")
    #: "letter" (default) or "a4".
    PAGE_SIZE: str = os.environ.get("PAGE_SIZE", "letter").lower()
    DATABASE_URL: str | None = os.environ.get("DATABASE_URL")
    #: IANA time zone of the clinic ("America/Chicago") for the signing time; empty: the server's.
    CLINIC_TIMEZONE: str = os.environ.get("CLINIC_TIMEZONE", "")

    SESSION_COOKIE_SAMESITE: str = "Lax"
    SESSION_COOKIE_SECURE: bool = os.environ.get("SESSION_COOKIE_SECURE", "") == "1"

    #: Kiosk mode: the id of the one form this tablet shows (empty: the tablet offers every form).
    KIOSK_FORM: str = os.environ.get("KIOSK_FORM", "")
    #: A tablet draft is deleted this long after the patient's last step.
    DRAFT_TTL_SECONDS: int = _seconds("DRAFT_TTL_SECONDS", 30 * 60)
    #: Without a touch for this long, the tablet asks "Are you still there?"...
    IDLE_TIMEOUT_SECONDS: int = _seconds("IDLE_TIMEOUT_SECONDS", 3 * 60)
    #: ...and wipes the draft when nobody answers within this long.
    IDLE_WARNING_SECONDS: int = _seconds("IDLE_WARNING_SECONDS", 30)
    #: The "thank you" screen clears itself after this long.
    DONE_CLEAR_SECONDS: int = _seconds("DONE_CLEAR_SECONDS", 90)
    #: The patient's copy can be downloaded once, within this long after submitting.
    PATIENT_COPY_TTL_SECONDS: int = _seconds("PATIENT_COPY_TTL_SECONDS", 10 * 60)

    #: PKCS#12 file (certificate and key) the clinic seals consents with; empty: a self-signed
    #: certificate is made under CERTIFICATES_DIR on first use.
    SIGNING_P12: Path | None = (
        Path(os.environ["SIGNING_P12"]) if os.environ.get("SIGNING_P12") else None
    )
    SIGNING_P12_PASSWORD: str = os.environ.get("SIGNING_P12_PASSWORD", "")
    #: Every certificate ever used to seal is kept here, so old consents stay verifiable.
    CERTIFICATES_DIR: Path = Path(
        os.environ.get("CERTIFICATES_DIR", PROJECT_ROOT / "instance" / "certificates")
    )
    #: RFC 3161 timestamp authority for each seal (empty: no timestamp).
    TSA_URL: str = os.environ.get("TSA_URL", "")
