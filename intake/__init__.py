"""Tablet intake and signed consent PDFs for a clinic."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from flask import Flask, Response
from flask_wtf.csrf import CSRFProtect

from intake.config import PROJECT_ROOT, Config
from intake.definition import FormCatalog


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """The application factory: configuration, the form catalog, and the blueprints."""
    app = Flask(
        __name__,
        instance_path=str(PROJECT_ROOT / "instance"),
        template_folder=str(PROJECT_ROOT / "templates"),
    )
    app.config.from_object(Config)
    if test_config:
        app.config.from_mapping(test_config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(app)
    app.extensions["forms"] = FormCatalog(app.config["FORMS_DIR"])

    CSRFProtect(app)
    app.after_request(_no_store)

    from intake import consent, tablet

    consent.init_app(app)
    tablet.init_app(app)
    return app


def _no_store(response: Response) -> Response:
    """Pages may show a patient's answers: no browser or proxy may keep a copy."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _instance_secret(app: Flask) -> str:
    """A random secret kept under `instance/`, made on first start, so sessions survive restarts."""
    key_file = Path(app.instance_path) / "secret_key"
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    return key_file.read_text().strip()
