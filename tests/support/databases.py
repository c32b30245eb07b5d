"""Real, empty databases for the tests, on SQLite and on a real PostgreSQL server.

A pytest plugin (registered in conftest.py). It gives:

- ``postgres_server`` (session): one throwaway PostgreSQL server for the whole test session,
  started from the newest ``/usr/lib/postgresql/*/bin`` on 127.0.0.1 and a free port, with its
  data in a temp folder that is removed at the end of the session. ``.url(dbname)`` gives a
  SQLAlchemy URL; ``.create_database()`` makes a fresh, uniquely named database and returns its
  URL; ``.drop_database(url)`` drops one.
- ``database_url`` (function, parametrized ``sqlite`` / ``postgresql``): the URL of a new, empty
  database for one test. SQLite is a file in the test's ``tmp_path``; PostgreSQL is a database of
  its own on the session server, dropped after the test. The server is started only when a
  ``postgresql`` test first needs it, so ``-k sqlite`` runs never start it.

PostgreSQL refuses to run as root, so as root ``initdb`` and ``pg_ctl`` run as the ``postgres``
user (via ``runuser``) in a folder that user owns. Without PostgreSQL the PostgreSQL tests are
skipped, except when ``CI=true``, where they fail: CI must never go green by skipping.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import re
import secrets
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import psycopg
import pytest
from psycopg import sql

NOT_INSTALLED = "PostgreSQL is not installed: apt-get install postgresql"
SERVER_OPTIONS = (
    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
)


def skip_or_fail(message: str) -> NoReturn:
    """Skip, or fail when running on CI (CI=true), where a skip would hide the missing tests."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def find_pg_bin() -> Path | None:
    """The newest installed ``/usr/lib/postgresql/<version>/bin`` that has the server tools."""
    candidates = [
        Path(path)
        for path in glob.glob("/usr/lib/postgresql/*/bin")
        if re.fullmatch(r"\d+(\.\d+)?", Path(path).parent.name)
        and all((Path(path) / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres"))
    ]
    if not candidates:
        return None
    return max(candidates, key=lambda path: float(path.parent.name))


def has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    """A throwaway PostgreSQL server in a temp folder, reachable as the trusted user postgres."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.as_root = os.geteuid() == 0
        self.root = Path(tempfile.mkdtemp(prefix="intake-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port()
        self.start_seconds: float | None = None
        self._admin: psycopg.Connection | None = None
        self._counter = itertools.count(1)
        if self.as_root:
            postgres = pwd.getpwnam("postgres")
            os.chown(self.root, postgres.pw_uid, postgres.pw_gid)

    def _run(self, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin_dir / tool), *args]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        # cwd: the postgres user may not be allowed into the current directory.
        return subprocess.run(
            command, cwd=self.root, capture_output=True, text=True, timeout=120, check=False
        )

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no server log)"
        return "\n".join(text.splitlines()[-lines:]) or "(empty server log)"

    def start(self) -> None:
        """Initialise and start the server; raise RuntimeError if it fails (see `log_tail`)."""
        started = time.perf_counter()
        init = self._run(
            "initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync",
            "-E", "UTF8", "--locale=C",
        )  # fmt: skip
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{init.stdout}\n{init.stderr}")
        options = f"-h 127.0.0.1 -p {self.port} -k {shlex.quote(str(self.root))} {SERVER_OPTIONS}"
        ctl = self._run(
            "pg_ctl", "start", "-w", "-t", "60", "-D", str(self.data), "-l", str(self.log),
            "-o", options,
        )  # fmt: skip
        if ctl.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed:\n{ctl.stdout}\n{ctl.stderr}")
        self._admin = psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        )
        self.start_seconds = time.perf_counter() - started

    def stop(self) -> None:
        """Stop the server (if it runs) and remove its folder."""
        try:
            if self._admin is not None:
                self._admin.close()
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "stop", "-m", "immediate", "-w", "-D", str(self.data))
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, dbname: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{dbname}"

    def create_database(self) -> str:
        """Create a fresh, empty, uniquely named database and return its SQLAlchemy URL."""
        assert self._admin is not None, "the server is not running"
        name = f"t_{next(self._counter)}_{secrets.token_hex(4)}"
        self._admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop the database behind `url`, even if connections to it are still open."""
        assert self._admin is not None, "the server is not running"
        name = url.rsplit("/", 1)[1]
        self._admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the session; skipped (failed when CI=true) if it can't run."""
    bin_dir = find_pg_bin()
    if bin_dir is None:
        skip_or_fail(NOT_INSTALLED)
    if os.geteuid() == 0 and not has_user("postgres"):
        skip_or_fail("PostgreSQL can't run as root and there is no postgres user to run it as")
    server = PostgresServer(bin_dir)
    try:
        try:
            server.start()
        except (RuntimeError, OSError, subprocess.SubprocessError, psycopg.Error) as error:
            skip_or_fail(
                f"PostgreSQL server did not start: {error}\nserver log tail:\n{server.log_tail()}"
            )
        yield server
    finally:
        server.stop()


def new_database(request: pytest.FixtureRequest, kind: str, folder: Path) -> str:
    """The SQLAlchemy URL of a new, empty database for the test asking: a SQLite file in
    `folder` (`kind` "sqlite"), or a database on the session's PostgreSQL server, dropped when
    the test ends."""
    if kind == "sqlite":
        return f"sqlite:///{folder}/archive.sqlite3"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = server.create_database()
    request.addfinalizer(lambda: server.drop_database(url))
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The SQLAlchemy URL of a new, empty database for this test, on SQLite and PostgreSQL."""
    return new_database(request, request.param, tmp_path)
