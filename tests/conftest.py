"""Shared fixtures: the app, its clients, the B12 definition and the demo submission."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from intake.archive import staff as staff_accounts
from intake.archive.service import Archive
from intake.cli import main
from intake.definition import ConsentDefinition, FormCatalog
from intake.pdf import render_consent
from intake.submission import validate_submission
from tests.support.app import (
    B12,
    CLI_SETTINGS,
    DEMO_DOCUMENT_ID,
    FORMS_DIR,
    Run,
    app_settings,
    demo_submission,
    new_app,
)
from tests.support.hostile_input import demo, minor_of
from tests.support.serving import GunicornServer
from tests.support.staff import FAST_HASHER, StaffActions, make_staff
from tests.support.tablet import TabletActions

pytest_plugins = ["tests.support.databases", "tests.support.browser", "tests.support.backups"]


@pytest.fixture(autouse=True)
def own_instance_folder(tmp_path_factory: pytest.TempPathFactory, monkeypatch) -> None:
    """The instance folder defaults to `./instance`: a test that names none gets one of its own,
    never the checkout's (where `make run` keeps a developer's archive)."""
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path_factory.mktemp("instance")))


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
def minor() -> dict[str, Any]:
    """The demo submission for a patient who is 15 today, with her mother's block and signature."""
    return minor_of(demo())


@pytest.fixture
def tablet(client) -> TabletActions:
    return TabletActions(client)


@pytest.fixture(scope="session")
def demo_pdf(catalog: FormCatalog) -> bytes:
    """The demo consent as rendered (not sealed), with the document id `DEMO_DOCUMENT_ID`."""
    submission = validate_submission(demo_submission(), catalog)
    return render_consent(catalog.get(submission.form_id), submission, document_id=DEMO_DOCUMENT_ID)


@pytest.fixture
def forms_copy(tmp_path: Path) -> Path:
    """A private copy of forms/ (definitions and lock) that a test may change."""
    return Path(shutil.copytree(FORMS_DIR, tmp_path / "forms"))


@pytest.fixture
def fast_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    """Staff passwords hashed with `FAST_HASHER`, for modules that log in many times (each asks
    with `pytestmark = pytest.mark.usefixtures("fast_passwords")`)."""
    monkeypatch.setattr(staff_accounts, "hasher", FAST_HASHER)


@pytest.fixture
def desk(archive: Archive, client) -> StaffActions:
    """The front desk, logged in on the test client."""
    make_staff(archive, "front-desk")
    actions = StaffActions(client)
    actions.login_as("front-desk")
    return actions


@pytest.fixture
def admin(archive: Archive, client) -> StaffActions:
    """An admin, logged in on the test client (their second factor answered)."""
    make_staff(archive, "admin")
    actions = StaffActions(client)
    actions.login_as("admin")
    return actions


@pytest.fixture
def servers() -> Iterator[list[GunicornServer]]:
    """Gunicorn servers the test starts; every one is stopped at the end, whatever happened."""
    started: list[GunicornServer] = []
    yield started
    for server in started:
        server.stop()
