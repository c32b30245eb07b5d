"""The wheel, installed as a deployment would (a new virtualenv, an empty folder), does the
product's whole job without the source tree, and writes nothing inside site-packages."""

from __future__ import annotations

import io
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pypdf import PdfReader

from intake.config import PROJECT_ROOT
from intake.pdf.render import PREVIEW_MARK
from tests.support.serving import APP_SETTINGS, HOST, TabletClient, demo_submission, free_port

pytestmark = pytest.mark.slow


def files_under(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file below `folder` with its size and modification time."""
    found = {}
    for path in folder.rglob("*"):
        if path.is_file():
            stat = path.stat()
            found[str(path.relative_to(folder))] = (stat.st_size, stat.st_mtime_ns)
    return found


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtualenv outside the repository with the wheel built from it installed."""
    root = tmp_path_factory.mktemp("package")
    # Built from a copy of what the wheel is made of: the build leaves nothing in the checkout.
    source = root / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(PROJECT_ROOT / name, source / name)
    for folder in ("intake", "forms", "templates"):
        shutil.copytree(
            PROJECT_ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    wheels = root / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", wheels, source],
        check=True,
        cwd=root,
    )
    (wheel,) = wheels.glob("intake-*.whl")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    subprocess.run([venv / "bin" / "pip", "install", "-q", wheel], check=True, cwd=root)
    return venv


def site_packages(venv: Path) -> Path:
    (folder,) = (venv / "lib").glob("python*/site-packages")
    return folder


FIRST_ADMIN = {
    "name": "Ana Ruiz",
    "email": "ana@clinic.example",
    "password": "violet tractor mango quietly 71",
}


def clean_env(venv: Path) -> dict[str, str]:
    """The environment of a new deployment: no app setting, the virtualenv first on PATH."""
    env = {k: v for k, v in os.environ.items() if k not in APP_SETTINGS and k != "PYTHONPATH"}
    env["PATH"] = f"{venv / 'bin'}:{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def test_the_installed_package_runs_from_an_empty_folder(installed: Path, tmp_path: Path):
    packages = site_packages(installed)
    assert (packages / "intake" / "forms" / "b12-methylcobalamin.toml").is_file()
    assert (packages / "intake" / "templates" / "tablet" / "welcome.html").is_file()
    assert (packages / "intake" / "static" / "signature-pad.js").is_file()
    before = files_under(packages)
    work = tmp_path / "clinic"
    work.mkdir()
    env = clean_env(installed)

    def intake(*args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["intake", *map(str, args)], cwd=work, env=env, capture_output=True, text=True
        )

    upgraded = intake("db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert (work / "instance" / "archive.sqlite3").is_file()
    assert (work / "instance").stat().st_mode & 0o077 == 0

    rendered = intake("render", "--demo", "--out", "demo.pdf")
    assert rendered.returncode == 0, rendered.stderr
    pages = PdfReader(io.BytesIO((work / "demo.pdf").read_bytes())).pages
    assert all(PREVIEW_MARK in page.extract_text() for page in pages)
    unsealed = intake("verify", "demo.pdf")
    assert unsealed.returncode == 1
    assert "the file carries no seal" in unsealed.stdout

    port = free_port()
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            ["intake", "serve", "--host", HOST, "--port", str(port), "--workers", "1"],
            cwd=work,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        url = f"http://{HOST}:{port}"
        tablet = TabletClient([url])
        deadline = time.monotonic() + 60
        while True:
            try:
                if tablet.request("GET", "/healthz").status == 200:
                    break
            except Exception:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise AssertionError(log.read_text()) from None
                time.sleep(0.2)
        assert "development server" not in log.read_text()
        link = re.search(rf"{re.escape(url)}(/staff/setup/\S{{40,}})", log.read_text())
        assert link
        # The newcomer opens the setup link on the tablet: the first admin is made and this
        # browser enrolled as the first tablet, so the patient's forms open on it.
        tablet._post_step(link.group(1), FIRST_ADMIN, "/staff/login")
        tablet.prepare(demo_submission())
        answer, _ = tablet.submit()
        assert answer.status in (302, 303), answer.body[:500]
        assert (answer.header("Location") or "").endswith("/tablet/done")
    finally:
        server.terminate()
        server.wait(timeout=30)

    with sqlite3.connect(work / "instance" / "archive.sqlite3") as db:
        rows = db.execute("SELECT status, pdf_sha256 FROM consents").fetchall()
    assert [status for status, _ in rows] == ["archived"]
    sha256 = rows[0][1]
    stored = work / "instance" / "archive" / sha256[:2] / f"{sha256}.pdf"
    assert stored.is_file()
    verified = intake("verify", stored, "--archive")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "sealed by the clinic, unchanged since" in verified.stdout

    assert files_under(packages) == before, "something was written inside site-packages"
    assert not list(packages.rglob("instance"))


def test_the_installed_package_speaks_spanish(installed: Path, tmp_path: Path):
    """The wheel carries the compiled catalogs: the installed package's pages and PDF labels
    read them (both through `intake.languages.TRANSLATIONS`)."""
    packages = site_packages(installed)
    assert (packages / "intake" / "translations" / "es" / "LC_MESSAGES" / "messages.mo").is_file()
    assert (packages / "intake" / "translations" / "es" / "LC_MESSAGES" / "messages.po").is_file()
    said = subprocess.run(
        [
            installed / "bin" / "python",
            "-c",
            "from intake.languages import TRANSLATIONS, gettext_for; print(TRANSLATIONS); "
            "print(gettext_for('es', 'Step %(step)s of %(count)s', step=1, count=6))",
        ],
        cwd=tmp_path,
        env=clean_env(installed),
        capture_output=True,
        text=True,
        check=True,
    )
    folder, words = said.stdout.splitlines()
    assert Path(folder).is_relative_to(packages)
    assert words == "Paso 1 de 6"
