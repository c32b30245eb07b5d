"""A throwaway PostgreSQL server for a benchmark: started in a temp folder, removed at the end.

The essentials of `tests/databases.py` without pytest: the newest `/usr/lib/postgresql/*/bin`,
127.0.0.1 on a free port, and, as root, `initdb` and `pg_ctl` run as the `postgres` user (the
server refuses to run as root). Durability is off (`fsync=off`): the benches measure reads, and
seeding a large archive should not wait on the disk.
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

SERVER_OPTIONS = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"


class PostgresUnavailable(RuntimeError):
    """PostgreSQL is not installed, or cannot be run here; the message says why."""


def find_pg_bin() -> Path | None:
    """The newest installed `/usr/lib/postgresql/<version>/bin` that has the server tools."""
    candidates = [
        Path(path)
        for path in glob.glob("/usr/lib/postgresql/*/bin")
        if re.fullmatch(r"\d+(\.\d+)?", Path(path).parent.name)
        and all((Path(path) / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres"))
    ]
    return max(candidates, key=lambda path: float(path.parent.name)) if candidates else None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    """One server in its own temp folder, reachable as the trusted user postgres."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.version = bin_dir.parent.name
        self.as_root = os.geteuid() == 0
        self.root = Path(tempfile.mkdtemp(prefix="intake-bench-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port()
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

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no server log)"
        return "\n".join(text.splitlines()[-lines:]) or "(empty server log)"

    def start(self) -> None:
        try:
            self._start()
        except (OSError, subprocess.SubprocessError) as error:
            raise PostgresUnavailable(f"PostgreSQL did not start: {error}") from error

    def _start(self) -> None:
        init = self._run(
            "initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync",
            "-E", "UTF8", "--locale=C",
        )  # fmt: skip
        if init.returncode != 0:
            raise PostgresUnavailable(f"initdb failed:\n{init.stdout}\n{init.stderr}")
        options = f"-h 127.0.0.1 -p {self.port} -k {shlex.quote(str(self.root))} {SERVER_OPTIONS}"
        ctl = self._run(
            "pg_ctl", "start", "-w", "-t", "60", "-D", str(self.data), "-l", str(self.log),
            "-o", options,
        )  # fmt: skip
        if ctl.returncode != 0:
            raise PostgresUnavailable(
                f"pg_ctl start failed:\n{ctl.stdout}\n{ctl.stderr}\n{self.log_tail()}"
            )

    def stop(self) -> None:
        """Stop the server (if it runs) and remove its folder."""
        try:
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "stop", "-m", "immediate", "-w", "-D", str(self.data))
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, dbname: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str) -> str:
        """Create an empty database and return its SQLAlchemy URL."""
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)


@contextmanager
def throwaway_server() -> Iterator[PostgresServer]:
    """A running server for the block; stopped and removed afterwards, even on an error.

    Raises `PostgresUnavailable` when PostgreSQL is not installed or does not start.
    """
    bin_dir = find_pg_bin()
    if bin_dir is None:
        raise PostgresUnavailable("PostgreSQL is not installed (apt-get install postgresql)")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            raise PostgresUnavailable(
                "PostgreSQL can't run as root and there is no postgres user to run it as"
            ) from None
    server = PostgresServer(bin_dir)
    try:
        server.start()
        yield server
    finally:
        server.stop()
