"""The app's static files (styles, scripts, the icon) under fingerprinted URLs.

Every `url_for("static", ...)` gets `?v=<the first 16 hex digits of the file's SHA-256>`, so a
browser may keep a file for a year (`max-age`, `immutable`): a changed file has a new URL.
Pages themselves stay `no-store` (`intake._protective_headers`), since they may show a
patient's answers. `/favicon.ico` is the icon, for browsers that ask for it there.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from flask import Flask, Response, current_app, request, send_from_directory

#: How long a browser may keep a fingerprinted file: a year.
MAX_AGE = 365 * 24 * 3600
LONG_CACHE = f"public, max-age={MAX_AGE}, immutable"
ICON = "favicon.ico"

_fingerprints: dict[tuple[str, float], str] = {}


def fingerprint(folder: str, filename: str) -> str | None:
    """The file's content fingerprint; None for a file that is not there. Kept per file and
    modification time, so an edited file (in development) gets a new one."""
    path = Path(folder) / filename
    try:
        key = (str(path), path.stat().st_mtime)
    except OSError:
        return None
    if key not in _fingerprints:
        _fingerprints[key] = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return _fingerprints[key]


def cache_control() -> str | None:
    """The Cache-Control of this request's response when it is a static file asked for by its
    current fingerprint; None otherwise (the caller sends `no-store`)."""
    if request.endpoint != "static" and request.path != "/favicon.ico":
        return None
    filename = (request.view_args or {}).get("filename", ICON)
    version = request.args.get("v")
    folder = current_app.static_folder or ""
    if version and version == fingerprint(folder, filename):
        return LONG_CACHE
    # The icon at its fixed address, or a file by an old or missing fingerprint: a day.
    return "public, max-age=86400"


def init_app(app: Flask) -> None:
    @app.url_defaults
    def add_fingerprint(endpoint: str, values: dict[str, Any]) -> None:
        if endpoint == "static" and "filename" in values and "v" not in values:
            version = fingerprint(app.static_folder or "", values["filename"])
            if version:
                values["v"] = version

    @app.get("/favicon.ico")
    def favicon() -> Response:
        return send_from_directory(app.static_folder or "", ICON, mimetype="image/x-icon")
