"""`intake serve`: the app under gunicorn, as the README's deployment runs it, without a source
tree (the installed package carries its forms and templates)."""

from __future__ import annotations

from typing import Any

import click
from gunicorn.app.base import BaseApplication

from intake.archive.audit import Actor
from intake.archive.setup import SETUP_PATH, issue_setup_token
from intake.cli.runtime import open_archive, pass_catalog
from intake.definition import FormCatalog

#: One worker process per core, two threads each (README, Deploying).
WORKERS = 2
THREADS = 2


class IntakeServer(BaseApplication):
    """gunicorn's own application class, handed its settings here instead of a command line."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for name, value in self.options.items():
            self.cfg.set(name, value)

    def load(self) -> Any:
        from intake import create_app

        return create_app()


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
@pass_catalog
def serve(catalog: FormCatalog, host: str, port: int, workers: int, threads: int) -> None:
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
    IntakeServer(
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "worker_class": "gthread",
            "threads": threads,
            "accesslog": "-",
            "errorlog": "-",
            "loglevel": "info",
            "timeout": 60,
            "graceful_timeout": 10,
            "control_socket_disable": True,
        }
    ).run()
