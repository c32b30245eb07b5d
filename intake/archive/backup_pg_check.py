"""Check a PostgreSQL backup's rows: its dump restored into a throwaway database.

`pg_restore` puts the dump into a new database of its own on the archive's PostgreSQL server
(named `<archive database>_verify_<random>`, dropped when the check ends, whatever it found), and
the same checks as a SQLite copy's run on it (`backup_check.database_problems`): consent counts,
the audit chain and its newest hash, the staff accounts, and every archived consent's PDF. The
live archive is never touched. Making a database needs the CREATEDB right; without it, or
without a PostgreSQL server to use, the dump is read by `pg_restore --list` alone, and a note
says the rows were not checked.
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import create_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError

from intake.archive.backup_check import BackupCheck, database_problems
from intake.archive.backup_key import BackupKey
from intake.archive.backup_layout import POSTGRESQL_FILE, decrypted_file
from intake.archive.database_copy import BackupError, last_lines, pg_tool, run_pg_tool


def check_postgresql_dump(
    path: Path,
    manifest: dict[str, Any],
    key: BackupKey,
    pg_bin: Path | None,
    server_url: str | None,
    check: BackupCheck,
) -> None:
    try:
        pg_restore = pg_tool("pg_restore", pg_bin)
    except BackupError as exc:
        check.notes.append(f"{exc}: the dump was checked by its SHA-256 and decryption only")
        return
    with decrypted_file(key, path, POSTGRESQL_FILE) as dump:
        listing = subprocess.run(
            [pg_restore, "--list", str(dump)], capture_output=True, text=True, check=False
        )
        if listing.returncode != 0:
            check.problems.append(
                f"{POSTGRESQL_FILE}: pg_restore cannot read it: {last_lines(listing)}"
            )
            return
        if server_url is None or make_url(server_url).get_backend_name() != "postgresql":
            check.notes.append(
                "DATABASE_URL names no PostgreSQL server to restore the dump into: its rows "
                "(consents, audit trail, staff, PDFs) were not checked"
            )
            return
        try:
            with throwaway_database(server_url) as url:
                run_pg_tool(
                    url, pg_restore, "--no-owner", "--no-privileges", "--single-transaction",
                    "--exit-on-error", str(dump),
                )  # fmt: skip
                engine = create_engine(url)
                try:
                    with engine.connect() as connection:
                        check.problems.extend(database_problems(path, connection, manifest, key))
                finally:
                    engine.dispose()
        except CannotMakeDatabase as exc:
            check.notes.append(
                f"cannot make a throwaway database to restore the dump into ({exc}): its rows "
                "were not checked; give the database user the CREATEDB right"
            )
        except BackupError as exc:
            check.problems.append(f"{POSTGRESQL_FILE}: does not restore: {exc}")
        except DBAPIError as exc:
            check.problems.append(f"{POSTGRESQL_FILE}: not an archive database: {exc.orig}")


class CannotMakeDatabase(Exception):
    """The server refused to make the throwaway database (no CREATEDB right, or unreachable)."""


def _admin(url: URL) -> psycopg.Connection:
    return psycopg.connect(
        host=url.host or "",
        port=url.port or 5432,
        user=url.username or "",
        password=str(url.password) if url.password else None,
        dbname=url.database or "postgres",
        autocommit=True,
        **{name: value for name, value in url.query.items() if isinstance(value, str)},
    )


@contextmanager
def throwaway_database(server_url: str) -> Iterator[str]:
    """The URL of a new, empty database on the server of `server_url`, dropped after the block."""
    url = make_url(server_url)
    name = f"{url.database or 'intake'}_verify_{secrets.token_hex(6)}"[:63]
    try:
        admin = _admin(url)
    except psycopg.Error as exc:
        raise CannotMakeDatabase(str(exc).strip().splitlines()[0]) from None
    with admin:
        try:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except psycopg.Error as exc:
            raise CannotMakeDatabase(str(exc).strip().splitlines()[0]) from None
        try:
            yield url.set(database=name).render_as_string(hide_password=False)
        finally:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
