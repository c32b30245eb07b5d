"""Shared fixtures: the app, its clients, the B12 definition and the demo submission."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from intake import create_app
from intake.config import PROJECT_ROOT
from intake.definition import ConsentDefinition, FormCatalog

FORMS_DIR = PROJECT_ROOT / "forms"
DEMO_PATH = PROJECT_ROOT / "intake" / "demo_submission.json"
B12 = "b12-methylcobalamin"


@pytest.fixture
def app(tmp_path: Path):
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "FORMS_DIR": FORMS_DIR,
        }
    )
    app.instance_path = str(tmp_path / "instance")
    yield app


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
