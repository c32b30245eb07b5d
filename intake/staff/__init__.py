"""Staff pages: login, the consent list and search, a consent's page, review, audit, accounts."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from intake.staff import filters
    from intake.staff.routes import bp

    filters.init_app(app)
    app.register_blueprint(bp)
