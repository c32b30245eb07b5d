"""Private files: whatever the umask, everything the app and `intake` write under the instance
folder is owner-only from the moment it exists, and a folder or file left open to others by an
older install is tightened at start (with a log line) or the start is refused (one line)."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from intake.cli import main
from tests.support.app import app_settings, demo_submission, new_app
from tests.support.tablet import TabletActions

#: A certificate the folder keeps (`<sha256>.pem`) is public; it sits in an owner-only folder.
PUBLIC_CERTIFICATE = 64 + len(".pem")


@pytest.fixture(params=[0o022, 0o000], ids=["umask-022", "umask-000"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    before = os.umask(request.param)
    yield request.param
    os.umask(before)


def open_to_others(root: Path) -> list[str]:
    """Every folder and file under `root` (itself included) that another account may use."""
    found = []
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if path.is_dir() and mode != 0o700:
            found.append(f"{path.relative_to(root.parent)} {mode:04o}")
        elif path.is_file() and mode & 0o077:
            if path.parent.name == "certificates" and len(path.name) == PUBLIC_CERTIFICATE:
                continue
            found.append(f"{path.relative_to(root.parent)} {mode:04o}")
    return found


def test_everything_written_is_owner_only_whatever_the_umask(
    tmp_path: Path, umask: int, monkeypatch: pytest.MonkeyPatch, backup_key
):
    config = app_settings(tmp_path)
    del config["SECRET_KEY"]  # made and kept in the instance folder
    instance = config["INSTANCE_PATH"]
    app = new_app(config)
    try:
        tablet = TabletActions(app.test_client())
        tablet.fill(demo_submission())
        assert tablet.submit().headers["Location"] == "/tablet/done"
        TabletActions(app.test_client()).fill(demo_submission(), until="sign")  # a draft kept
        # The database is open: its -wal and -shm are there too.
        assert (instance / "archive.sqlite3-wal").exists()
        assert (instance / "archive.sqlite3-shm").exists()
        for name in ("secret_key", "drafts", "archive", "certificates/current-seal.pem"):
            assert (instance / name).exists(), name
        for name in ("INSTANCE_PATH", "DATABASE_URL"):
            monkeypatch.setenv(name, str(config[name]))
        result = CliRunner().invoke(main, ["backup", "create", "--out", str(instance / "backups")])
        assert result.exit_code == 0, result.output
        assert list((instance / "backups").iterdir())
        assert open_to_others(instance) == []
    finally:
        app.extensions["archive"].dispose()


def loosened(instance: Path) -> list[Path]:
    """What an older install under umask 022 left: folders 0755, files 0644."""
    paths = [instance, instance / "archive", instance / "certificates", instance / "drafts"]
    files = [
        instance / "archive.sqlite3",
        instance / "secret_key",
        instance / "certificates" / "current-seal.pem",
    ]
    for path in paths:
        path.mkdir(exist_ok=True)
        path.chmod(0o755)
    for path in files:
        path.chmod(0o644)
    return [*paths, *files]


def test_an_instance_folder_open_to_others_is_tightened_at_start(tmp_path: Path, caplog):
    config = app_settings(tmp_path)
    del config["SECRET_KEY"]
    instance = config["INSTANCE_PATH"]
    app = new_app(config)
    TabletActions(app.test_client()).fill(demo_submission(), until="health")
    app.extensions["archive"].dispose()
    paths = loosened(instance)
    with caplog.at_level(logging.WARNING, logger="intake.private_files"):
        app = new_app(config)
    app.extensions["archive"].dispose()
    assert open_to_others(instance) == []
    for path in paths:
        assert f"{path} was open to other accounts" in caplog.text
    assert "made owner-only (0700)" in caplog.text and "made owner-only (0600)" in caplog.text


def test_intake_db_upgrade_tightens_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    instance = tmp_path / "instance"
    monkeypatch.setenv("INSTANCE_PATH", str(instance))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert CliRunner().invoke(main, ["db", "upgrade"]).exit_code == 0
    instance.chmod(0o755)
    (instance / "archive.sqlite3").chmod(0o644)
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert open_to_others(instance) == []


def test_a_folder_that_cannot_be_tightened_is_refused_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    instance = tmp_path / "instance"
    monkeypatch.setenv("INSTANCE_PATH", str(instance))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert CliRunner().invoke(main, ["db", "upgrade"]).exit_code == 0
    instance.chmod(0o755)

    def not_the_owner(path, mode, **kwargs):  # what chmod says to another account's folder
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "chmod", not_the_owner)
    result = CliRunner().invoke(main, ["staff", "list"])
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        f"error: {instance} is open to other accounts (mode 0755) and cannot be made owner-only: "
        f"Operation not permitted; run the app as the account that owns it, or make it "
        f"owner-only (chmod 700 {instance})"
    ]
