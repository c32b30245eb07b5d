"""The consent text as a web page, and the health check."""

from __future__ import annotations

from flask import Flask

from intake.consent.routes import bp


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
