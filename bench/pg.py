"""A throwaway PostgreSQL server for a benchmark: started in a temp folder, removed at the end.

The server of the tests (`tests/support/databases.py`: the newest `/usr/lib/postgresql/*/bin`,
127.0.0.1 on a free port, and, as root, `initdb` and `pg_ctl` run as the `postgres` user), without
pytest's fixtures around it. Durability is off (`fsync=off`): the benches measure reads, and
seeding a large archive should not wait on the disk.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from tests.support.databases import NOT_INSTALLED, PostgresServer, find_pg_bin, has_user


class PostgresUnavailable(RuntimeError):
    """PostgreSQL is not installed, or cannot be run here; the message says why."""


@contextmanager
def throwaway_server() -> Iterator[PostgresServer]:
    """A running server for the block; stopped and removed afterwards, even on an error.

    Raises `PostgresUnavailable` when PostgreSQL is not installed or does not start.
    """
    bin_dir = find_pg_bin()
    if bin_dir is None:
        raise PostgresUnavailable(NOT_INSTALLED)
    if os.geteuid() == 0 and not has_user("postgres"):
        raise PostgresUnavailable(
            "PostgreSQL can't run as root and there is no postgres user to run it as"
        )
    server = PostgresServer(bin_dir)
    try:
        try:
            server.start()
        except (OSError, RuntimeError) as error:
            raise PostgresUnavailable(f"PostgreSQL did not start: {error}") from error
        yield server
    finally:
        server.stop()
