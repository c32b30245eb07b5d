"""The clinic's own settings that the consent shows: a start-up warning, and a staff banner,
while `CLINIC_PHONE` or `CLINIC_ADDRESS` is empty.

The consent tells the patient to contact the clinic about side effects and prints the clinic's
phone number there; without it the patient has nothing to call. Staff see the warning on every
staff page until the setting is made.
"""

from __future__ import annotations

import logging

from flask import Flask

log = logging.getLogger(__name__)

#: The settings the consent prints, in the order the warning names them.
SHOWN_ON_THE_CONSENT = ("CLINIC_PHONE", "CLINIC_ADDRESS")


def missing_settings(config: dict[str, object]) -> list[str]:
    """The clinic settings the consent needs that are empty."""
    return [name for name in SHOWN_ON_THE_CONSENT if not str(config.get(name) or "").strip()]


def init_app(app: Flask) -> None:
    missing = missing_settings(app.config)
    if missing:
        log.warning(
            "%s empty: the consent cannot give the patient the clinic's phone number and "
            "address. Set %s.",
            " and ".join(missing) + (" is" if len(missing) == 1 else " are"),
            " and ".join(missing),
        )

    @app.context_processor
    def clinic_settings() -> dict[str, object]:
        return {"clinic_settings_missing": missing_settings(app.config)}
