"""Staff pages: login, the consent list and search, a consent's page, review, handing the
tablet to a patient, and (admins) accounts, retention and the audit trail."""

from __future__ import annotations

from importlib import import_module

from flask import Flask

#: The modules of the staff pages, one per area; each adds its views to the staff blueprint.
AREAS = (
    "login",
    "consents",
    "patient_session",
    "accounts",
    "retention",
    "audit_trail",
    "my_account",
    "tablets",
    "void",
    "patients",
    "patient_merge",
    "withdrawals",
    "visits",
    "lots",
    "today",
    "injections",
    "translations",
)


def init_app(app: Flask) -> None:
    from intake.staff import auth, filters, setup
    from intake.staff.pages import bp

    for area in AREAS:
        import_module(f"{__name__}.{area}")
    auth.init_app(app)
    filters.init_app(app)
    app.register_blueprint(bp)
    app.register_blueprint(setup.bp)
