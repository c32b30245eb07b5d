"""Shared fixtures: the app, its clients, the B12 definition and the demo submission."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from intake.archive.service import Archive
from intake.cli import main
from intake.definition import ConsentDefinition, FormCatalog
from tests.support.app import (
    B12,
    CLI_SETTINGS,
    FORMS_DIR,
    Run,
    app_settings,
    demo_submission,
    new_app,
)
from tests.support.tablet import TabletActions

pytest_plugins = ["tests.support.databases", "tests.support.browser"]


@pytest.fixture
def app_config(tmp_path: Path) -> dict[str, Any]:
    """The test app's settings. A module that must run on both databases overrides this
    fixture to take `database_url`."""
    return app_settings(tmp_path)


@pytest.fixture
def app(app_config: dict[str, Any]):
    app = new_app(app_config)
    yield app
    app.extensions["archive"].dispose()


@pytest.fixture
def archive(app) -> Archive:
    return app.extensions["archive"]


@pytest.fixture
def intake(app, monkeypatch: pytest.MonkeyPatch) -> Run:
    """Runs the `intake` command on the test app's archive (its settings in the environment)."""
    for name in CLI_SETTINGS:
        monkeypatch.setenv(name, str(app.config[name]))

    def run(*args: str | Path, input: str | None = None) -> Result:
        return CliRunner().invoke(main, [str(a) for a in args], input=input)

    return run


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture(scope="session")
def catalog() -> FormCatalog:
    return FormCatalog(FORMS_DIR)


@pytest.fixture(scope="session")
def definition(catalog: FormCatalog) -> ConsentDefinition:
    return catalog.get(B12)


@pytest.fixture
def demo_data() -> dict[str, Any]:
    """A complete, valid submission (a fresh copy each test may change)."""
    return demo_submission()


@pytest.fixture
def tablet(client) -> TabletActions:
    return TabletActions(client)
