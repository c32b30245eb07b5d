"""`intake serve`: the app under gunicorn, as the README's deployment runs it, without a source
tree (the installed package carries its forms and templates)."""

from __future__ import annotations

import contextlib
import re
import socket
from typing import Any

import click
from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger
from gunicorn.workers.gthread import ThreadWorker

from intake.archive.audit import Actor
from intake.archive.setup import SETUP_PATH, issue_setup_token
from intake.cli.runtime import open_archive, pass_catalog
from intake.definition import FormCatalog

#: One worker process per core, two threads each (README, Deploying).
WORKERS = 2
THREADS = 2
#: Seconds a client may leave a request half-sent (between two reads of its headers or body)
#: before its connection is closed: a few such clients must not hold every thread for long.
READ_TIMEOUT_SECONDS = 5
#: The access log: gunicorn's usual fields, with the path's secrets (one-time links) hidden
#: and without the query.
ACCESS_LOG_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s "%(f)s" "%(a)s"'
#: A path segment that is a random token (a one-time copy or setup link), as the log shows it.
_TOKEN_SEGMENT = re.compile(r"(?<=/)[A-Za-z0-9_-]{20,}(?=/|$)")
HIDDEN = "<token>"


class IntakeWorker(ThreadWorker):
    """gunicorn's threaded worker, with a read timeout on every connection.

    gunicorn 27 has no setting for it: once a request's first bytes arrive, a worker thread
    reads the rest with no deadline, so 24 half-sent requests hold every thread. The socket's
    own timeout bounds each read; the thread gives up and closes the connection.
    """

    #: Set by `intake serve --read-timeout` before gunicorn forks its workers.
    read_timeout: float = READ_TIMEOUT_SECONDS

    def handle(self, conn: Any) -> Any:
        init = conn.init

        def init_with_timeout() -> None:
            init()
            conn.sock.settimeout(self.read_timeout)

        conn.init = init_with_timeout
        result = super().handle(conn)
        if result is False:
            # Done with (answered, or given up on a read): let the client see the end now;
            # gunicorn's main loop closes the socket itself, later.
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_RDWR)
        return result


class IntakeLogger(Logger):
    """gunicorn's logger; the access log never shows a token of a path, nor the query."""

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict:
        atoms = super().atoms(resp, req, environ, request_time)
        atoms["U"] = _TOKEN_SEGMENT.sub(HIDDEN, atoms.get("U") or "")
        atoms["r"] = f"{atoms['m']} {atoms['U']} {atoms['H']}"
        atoms["q"] = "-"
        atoms["f"] = _TOKEN_SEGMENT.sub(HIDDEN, str(atoms.get("f") or "-").split("?")[0])
        return atoms


class IntakeServer(BaseApplication):
    """gunicorn's own application class, handed its settings here instead of a command line."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for name, value in self.options.items():
            self.cfg.set(name, value)

    def load(self) -> Any:
        """The app, made in each worker (nothing of it crosses the fork), its collector set
        for serving."""
        from intake import create_app, settle_for_serving

        app = create_app()
        settle_for_serving()
        return app


def register(main: click.Group) -> None:
    main.add_command(serve)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--workers",
    default=WORKERS,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Worker processes: one per core.",
)
@click.option(
    "--threads",
    default=THREADS,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Threads per worker.",
)
@click.option(
    "--read-timeout",
    default=READ_TIMEOUT_SECONDS,
    show_default=True,
    type=click.IntRange(1, 300),
    help="Seconds a half-sent request may wait for its next bytes before it is dropped.",
)
@pass_catalog
def serve(
    catalog: FormCatalog, host: str, port: int, workers: int, threads: int, read_timeout: int
) -> None:
    """Serve the tablet and staff pages with gunicorn (behind a TLS proxy in production).

    The settings come from the environment, as for every command; the archive database must be
    at the newest schema (`intake db upgrade`). While no staff account exists, prints a one-time
    link that makes the first admin.
    """
    archive = open_archive(catalog)
    token = issue_setup_token(archive, Actor(user_agent="intake serve"))
    # The workers open the archive for themselves: nothing of this one may cross the fork.
    archive.dispose()
    if token is not None:
        shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        click.echo(
            "No staff account exists yet. Make the first admin with this one-time link "
            f"(it works until an admin exists): http://{shown}:{port}{SETUP_PATH}{token}",
            err=True,
        )
    IntakeWorker.read_timeout = read_timeout
    IntakeServer(
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "worker_class": "intake.cli.serve.IntakeWorker",
            "logger_class": "intake.cli.serve.IntakeLogger",
            "access_log_format": ACCESS_LOG_FORMAT,
            "threads": threads,
            "accesslog": "-",
            "errorlog": "-",
            "loglevel": "info",
            "timeout": 60,
            "graceful_timeout": 10,
            "control_socket_disable": True,
        }
    ).run()
