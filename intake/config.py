"""Configuration, read from the environment in one place."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Config:
    """Settings with defaults; an environment variable of the same name overrides each."""

    SECRET_KEY: str | None = os.environ.get("SECRET_KEY")
    FORMS_DIR: Path = Path(os.environ.get("FORMS_DIR", PROJECT_ROOT / "forms"))
    CLINIC_ADDRESS: str = os.environ.get("CLINIC_ADDRESS", "")
    CLINIC_PHONE: str = os.environ.get("CLINIC_PHONE", "")
    #: "letter" (default) or "a4".
    PAGE_SIZE: str = os.environ.get("PAGE_SIZE", "letter").lower()
    DATABASE_URL: str | None = os.environ.get("DATABASE_URL")
