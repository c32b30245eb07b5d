"""The test app: its forms, its demo submission, and its settings on a folder of its own."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from intake import create_app
from intake.config import PROJECT_ROOT
from tests.support.devices import EnrolledClient
from tests.support.migrated import migrate

FORMS_DIR = PROJECT_ROOT / "forms"
DEMO_PATH = PROJECT_ROOT / "intake" / "demo_submission.json"
B12 = "b12-methylcobalamin"
#: The document id the `demo_pdf` fixture renders the demo consent with.
DEMO_DOCUMENT_ID = "0b7c1d2e-3f40-4a5b-8c6d-7e8f9a0b1c2d"

#: The settings `intake` reads from the environment, copied from the test app's.
CLI_SETTINGS = (
    "DATABASE_URL",
    "INSTANCE_PATH",
    "FORMS_DIR",
    "STORAGE",
    "ARCHIVE_DIR",
    "CERTIFICATES_DIR",
    "RETENTION_YEARS",
)

#: The `intake` fixture: runs the command with these arguments (and stdin).
Run = Callable[..., Result]


def app_settings(folder: Path, **overrides: Any) -> dict[str, Any]:
    """Settings for an app of its own: instance folder and SQLite archive under `folder`."""
    instance = folder / "instance"
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "FORMS_DIR": FORMS_DIR,
        "INSTANCE_PATH": instance,
        "DATABASE_URL": f"sqlite:///{instance}/archive.sqlite3",
        # Every test client is a tablet of its own, but all of them come from 127.0.0.1: the
        # per-address limits (tested on their own in test_tablet_devices.py) are raised.
        "ADDRESS_SESSIONS_PER_MINUTE": 100_000,
        "ADDRESS_SUBMITS_PER_MINUTE": 100_000,
        **overrides,
    }


def new_app(config: dict[str, Any]):
    """The app for `config`, its archive database brought to the newest schema first. Its test
    clients are enrolled tablets (`plain_browser` makes one that is not)."""
    migrate(config["DATABASE_URL"])
    app = create_app(config)
    app.test_client_class = EnrolledClient
    return app


def demo_submission() -> dict[str, Any]:
    """The demo submission: complete and valid (a fresh copy each call, for the test to change)."""
    return json.loads(DEMO_PATH.read_text(encoding="utf-8"))


def on_both_databases(
    app_config: dict[str, Any], database_url: str, request: pytest.FixtureRequest
) -> dict[str, Any]:
    """The test app's settings on SQLite and on PostgreSQL (`database_url`), plus any a test
    gives with `indirect` parametrization. A module whose tests run on both databases makes it
    its `app_config` fixture:

        app_config = pytest.fixture(on_both_databases, name="app_config")
    """
    return {**app_config, "DATABASE_URL": database_url, **getattr(request, "param", {})}
