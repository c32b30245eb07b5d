"""Backups in tests: `--pg-bin`, wiping the archive, the backup key every test backup is made
with, and what someone holding that key could do to a backup (read a file, write one, sign a
changed manifest), so a test shows the checks that hold even then."""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from intake.archive.backup_check import MAC_FIELD, signed_manifest
from intake.archive.backup_key import BackupKey, make_key_file
from intake.archive.backup_layout import decrypted, write_encrypted
from intake.archive.manifest import manifest_json
from intake.archive.service import Archive
from tests.support.databases import PostgresServer, find_pg_bin


@pytest.fixture
def pg_bin(archive: Archive) -> list[str]:
    """`--pg-bin` with the server's own pg_dump and pg_restore, on PostgreSQL."""
    if archive.engine.dialect.name != "postgresql":
        return []
    return ["--pg-bin", str(find_pg_bin())]


@pytest.fixture
def wipe(
    app_config: dict[str, Any], archive: Archive, request: pytest.FixtureRequest
) -> Callable[[], None]:
    """Loses everything: the instance folder (PDFs, certificates) goes, and the SQLite file with
    it, or the PostgreSQL database is dropped and made again, empty."""

    def wipe() -> None:
        archive.dispose()
        shutil.rmtree(app_config["INSTANCE_PATH"])
        if archive.engine.dialect.name == "sqlite":
            database = Path(archive.engine.url.database)
            for path in (database, *(Path(f"{database}{end}") for end in ("-wal", "-shm"))):
                path.unlink(missing_ok=True)
        else:
            server: PostgresServer = request.getfixturevalue("postgres_server")
            url = app_config["DATABASE_URL"]
            server.drop_database(url)
            with psycopg.connect(
                host="127.0.0.1", port=server.port, user="postgres", dbname="postgres",
                autocommit=True,
            ) as admin:  # fmt: skip
                admin.execute(
                    sql.SQL("CREATE DATABASE {}").format(sql.Identifier(url.rsplit("/", 1)[1]))
                )

    return wipe


@pytest.fixture
def backup_key(tmp_path_factory: pytest.TempPathFactory, monkeypatch) -> BackupKey:
    """A new backup key in a folder of its own (apart from the backups), as BACKUP_KEY_FILE."""
    path = tmp_path_factory.mktemp("backup-key") / "backup.key"
    key = make_key_file(path)
    monkeypatch.setenv("BACKUP_KEY_FILE", str(path))
    return key


def decrypt(key: BackupKey, folder: Path, name: str) -> bytes:
    """The plaintext of a backup's file."""
    return b"".join(decrypted(key, folder, name))


def encrypt(key: BackupKey, folder: Path, name: str, data: bytes) -> dict[str, Any]:
    """Write `data` as the backup's file `name`, encrypted with `key`; its manifest entry."""
    return write_encrypted(key, io.BytesIO(data), folder, name)


def resign_manifest(folder: Path, manifest: dict[str, Any], key: BackupKey) -> None:
    """Write `manifest` (as `manifest_of` read it) with a new HMAC made with `key`."""
    manifest = {name: value for name, value in manifest.items() if name != MAC_FIELD}
    (folder / "manifest.json").write_bytes(manifest_json(signed_manifest(manifest, key)))


def unsigned_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    """Write `manifest` as someone without the key would: its HMAC left as it was."""
    (folder / "manifest.json").write_text(json.dumps(manifest))
