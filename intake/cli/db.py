"""`intake db upgrade`: the archive database's schema."""

from __future__ import annotations

import click

from intake.archive.migrate import head_revision, upgrade
from intake.cli.runtime import settings
from intake.private_files import tighten_instance


def register(main: click.Group) -> None:
    main.add_command(db)


@click.group()
def db() -> None:
    """The archive database."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Bring the archive database (DATABASE_URL, or SQLite in the instance folder) up to date."""
    config = settings()
    tighten_instance(config)
    upgrade(config.database_url)
    click.echo(f"archive database at schema {head_revision()}")
