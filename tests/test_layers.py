"""No import runs back up a layer: the archive, the PDF engine, the definitions, the settings
and the CLI import nothing of Flask or of the web app's modules, so every one of them serves the
web app, the CLI and the tests alike."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from intake.config import PACKAGE_ROOT

#: What only the web app may import.
WEB = ("flask", "flask_wtf", "werkzeug", "wtforms", "intake.staff", "intake.tablet",
       "intake.consent", "intake.archive.web")  # fmt: skip
#: The web app's own modules (the app-wide ones at the top of the package), and the package's
#: `create_app`, which `intake serve` loads inside the worker, not on import.
WEB_MODULES = {
    "intake/archive/web.py",
    "intake/__init__.py",
    "intake/i18n.py",
    "intake/clinic.py",
    "intake/static_files.py",
}


def imported(path: Path) -> set[str]:
    """Every module `path` imports at its top level or inside a function."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def plain_modules() -> list[Path]:
    root = PACKAGE_ROOT
    folders = ["archive", "pdf", "cli", "migrations", "fhir"]
    files = [p for folder in folders for p in (root / folder).rglob("*.py")]
    files += [p for p in root.glob("*.py")]
    return sorted(p for p in files if str(p.relative_to(root.parent)) not in WEB_MODULES)


@pytest.mark.parametrize("path", plain_modules(), ids=lambda p: str(p.relative_to(PACKAGE_ROOT)))
def test_no_web_import_below_the_web_app(path: Path):
    wrong = {
        name
        for name in imported(path)
        if any(name == web or name.startswith(web + ".") for web in WEB)
    }
    assert wrong == set(), f"{path.name} imports {sorted(wrong)}"


def test_the_walk_sees_the_layers():
    paths = {str(p.relative_to(PACKAGE_ROOT)) for p in plain_modules()}
    assert {"archive/service.py", "pdf/render.py", "cli/runtime.py", "config.py"} <= paths
    assert "fhir/export.py" in paths
    assert "flask" in imported(PACKAGE_ROOT / "archive" / "web.py")
