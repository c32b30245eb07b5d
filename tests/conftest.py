"""Shared fixtures: the app, its clients, the B12 definition and the demo submission."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from intake import create_app
from intake.archive.migrate import upgrade
from intake.archive.service import Archive
from intake.cli import main
from intake.config import PROJECT_ROOT
from intake.definition import ConsentDefinition, FormCatalog

pytest_plugins = ["databases", "browser"]

FORMS_DIR = PROJECT_ROOT / "forms"
DEMO_PATH = PROJECT_ROOT / "intake" / "demo_submission.json"
B12 = "b12-methylcobalamin"


def app_settings(folder: Path, **overrides: Any) -> dict[str, Any]:
    """Settings for an app of its own: instance folder and SQLite archive under `folder`."""
    instance = folder / "instance"
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "FORMS_DIR": FORMS_DIR,
        "INSTANCE_PATH": instance,
        "DATABASE_URL": f"sqlite:///{instance}/archive.sqlite3",
        **overrides,
    }


def new_app(config: dict[str, Any]):
    """The app for `config`, its archive database brought to the newest schema first."""
    upgrade(config["DATABASE_URL"])
    return create_app(config)


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

Run = Callable[..., Result]


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
    """A complete, valid submission (a fresh deep copy each test may change)."""
    return copy.deepcopy(json.loads(DEMO_PATH.read_text(encoding="utf-8")))


def csrf_token(html: str) -> str:
    """The CSRF token of the first form on a page, as a browser would send it."""
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def step_fields(data: dict[str, Any]) -> dict[str, dict[str, str]]:
    """A submission (the documented JSON format) as the tablet's form fields, step by step."""
    p = data["patient"]
    ec = p["emergency_contact"]
    sign = {
        "typed_name": data["signature"]["typed_name"],
        "signature": json.dumps({k: v for k, v in data["signature"].items() if k != "typed_name"}),
    }
    if data.get("guardian"):
        g = data["guardian"]
        sign |= {
            "guardian_name": g["name"],
            "guardian_relationship": g["relationship"],
            "guardian_signature": json.dumps(g["signature"]),
        }
    yes_no = {True: "yes", False: "no"}
    return {
        "details": {
            **{k: p.get(k, "") for k in ("legal_name", "preferred_name", "date_of_birth")},
            **{k: p.get(k, "") for k in ("phone", "email", "address", "primary_physician")},
            "ec_name": ec["name"],
            "ec_phone": ec["phone"],
            "ec_relationship": ec["relationship"],
        },
        "health": {
            **data["health"],
            **{f"q_{qid}": yes_no[answer] for qid, answer in data["screening"].items()},
        },
        "consent": {f"a_{aid}": "y" for aid, ticked in data["acknowledgments"].items() if ticked},
        "sign": sign,
    }


class TabletActions:
    """Walks the tablet flow through the test client, reading each page's CSRF token."""

    def __init__(self, client) -> None:
        self.client = client

    def post(self, path: str, fields: dict[str, str], **kwargs: Any):
        page = self.client.get(path)
        fields = {"csrf_token": csrf_token(page.text), **fields}
        return self.client.post(path, data=fields, **kwargs)

    def start(self, form_id: str = B12):
        return self.post(f"/tablet/form/{form_id}", {})

    def fill(self, data: dict[str, Any], until: str = "review"):
        """Start, then fill each step from `data` up to (not including) `until`."""
        response = self.start()
        for step, fields in step_fields(data).items():
            if step == until:
                break
            response = self.post(f"/tablet/{step}", fields)
            assert response.status_code == 302, (step, response.text)
        return response

    def wipe(self, page: str = "/tablet/details"):
        """Tap "Start over" on `page`."""
        token = csrf_token(self.client.get(page).text)
        return self.client.post("/tablet/wipe", data={"csrf_token": token})

    def submit(self, **kwargs: Any):
        page = self.client.get("/tablet/review")
        token = re.search(r'name="submit_token" type="hidden" value="([^"]+)"', page.text)
        assert token, page.text
        fields = {"csrf_token": csrf_token(page.text), "submit_token": token.group(1)}
        return self.client.post("/tablet/submit", data=fields, **kwargs)


@pytest.fixture
def tablet(client) -> TabletActions:
    return TabletActions(client)
