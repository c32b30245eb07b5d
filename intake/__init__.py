"""Tablet intake and signed consent PDFs for a clinic.

Importing the package imports nothing of the web app: the `intake` command imports `intake.cli`
(and with it this package) on every run, and Flask and the archive are imported by the app
factory when an app is made.
"""

from __future__ import annotations

import gc
import logging
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask, Response


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """The application factory: configuration, the form catalog, the archive, the blueprints."""
    from flask import Flask
    from flask_wtf.csrf import CSRFProtect
    from werkzeug.middleware.proxy_fix import ProxyFix

    from intake.config import Config, bundled
    from intake.definition import FormCatalog
    from intake.private_files import tighten_instance
    from intake.safe_write import make_folders

    _log_like_the_server()
    config = Config(overrides=test_config)
    app = Flask(
        __name__,
        instance_path=str(config.INSTANCE_PATH),
        template_folder=str(bundled("templates")),
    )
    app.config.update(config.as_dict())
    make_folders(config.INSTANCE_PATH)
    tighten_instance(config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(app)
    app.extensions["config"] = config
    app.extensions["forms"] = FormCatalog(config.FORMS_DIR)

    if hops := int(app.config["PROXY_HOPS"]):
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops
        )

    CSRFProtect(app)
    app.after_request(_protective_headers)

    from intake import clinic, consent, i18n, staff, static_files, tablet
    from intake.archive import web as archive_web

    i18n.init_app(app)
    clinic.init_app(app)
    static_files.init_app(app)
    archive_web.init_app(app)
    consent.init_app(app)
    tablet.init_app(app)
    staff.init_app(app)
    return app


#: Scripts and styles only from the app's own files (no inline script, no inline handler), no
#: plugins, forms posting only back to the app, and no other site may frame a page.
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
#: A consent PDF is shown inside the staff page that embeds it, and nowhere else.
PDF_POLICY = "frame-ancestors 'self'"


def _protective_headers(response: Response) -> Response:
    """Pages may show a patient's answers: no browser or proxy may keep a copy, no other site
    may frame them, and the browser runs only the app's own scripts. Only the app's static
    files, by their fingerprinted URLs, may be kept (`static_files`)."""
    from flask import request

    from intake.static_files import cache_control

    response.headers["Cache-Control"] = cache_control() or "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    if response.mimetype == "application/pdf":
        response.headers["Content-Security-Policy"] = PDF_POLICY
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
    else:
        response.headers["Content-Security-Policy"] = PAGE_POLICY
        response.headers["X-Frame-Options"] = "DENY"
    if request.is_secure:
        response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    return response


def _log_like_the_server() -> None:
    """The app's own log lines (repairs, storage failures; never patient data) at INFO: into
    gunicorn's error log when it runs the app, else to stderr unless logging is set up already."""
    ours = logging.getLogger("intake")
    server = logging.getLogger("gunicorn.error")
    if server.handlers:
        ours.handlers = list(server.handlers)
        ours.setLevel(server.level)
        ours.propagate = False
    elif not ours.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        ours.addHandler(handler)
        ours.setLevel(logging.INFO)


def _instance_secret(app: Flask) -> str:
    """A random secret kept under `instance/`, made on first start, so sessions survive restarts."""
    from intake.private_files import SECRET_KEY_FILE
    from intake.safe_write import write_file

    key_file = Path(app.instance_path) / SECRET_KEY_FILE
    if not key_file.exists():
        # Owner-only from the moment it exists; a second worker starting at the same time
        # finds the first one's key in place and reads it.
        write_file(key_file, secrets.token_hex(32).encode(), replace=False)
    return key_file.read_text().strip()


def settle_for_serving() -> None:
    """Ready a server process's garbage collector, once its app is made (`intake serve`'s
    workers, `app.py`).

    What exists by then (modules, compiled templates, fonts, the form catalog, the engine, the
    signer) lives as long as the process: `gc.freeze()` takes it out of the collector's view,
    so a full collection no longer walks all of it (120 to 300 ms a time in a worker, several
    times a minute under load). Cyclic garbage made by requests is collected as before, at
    Python's usual thresholds: larger ones keep a render's garbage longer and raise a worker's
    peak memory. Not for the app factory itself: a test process makes many apps, and what a
    frozen app holds is never collected.
    """
    gc.collect()
    gc.freeze()
