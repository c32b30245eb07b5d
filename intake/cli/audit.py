"""`intake audit verify`: the audit trail's hash chain."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from intake.cli.progress import progress_bar, quiet_option
from intake.cli.runtime import open_database, settings

if TYPE_CHECKING:
    from intake.archive.audit_chain import ChainReport


def register(main: click.Group) -> None:
    main.add_command(audit_group)


@click.group("audit")
def audit_group() -> None:
    """The audit trail of who did what."""


#: The progress bar's label (on a terminal only).
WALKING = "Checking the audit trail"


@audit_group.command("verify")
@quiet_option
def audit_verify(quiet: bool) -> None:
    """Walk the audit trail's hash chain; exit 1, naming the first row that does not hold."""
    from intake.archive import audit_walk
    from intake.private_files import tighten_instance

    config = settings()
    config.checked_storage()  # refused as `open_database` refuses it
    tighten_instance(config)
    # A trail that holds is walked on the driver's own connection (no SQLAlchemy or Alembic
    # to start); anything else (a break, an old schema, a database it cannot open) goes the
    # archive's way, which reports it.
    with progress_bar(WALKING, quiet) as progress:
        report = audit_walk.verify_and_keep(config.database_url, progress)
    if report is None:
        report = _verify_on_the_archive(quiet)
    if report.holds:
        click.echo(f"audit trail holds: {report.rows} rows")
        return
    click.echo(f"audit trail BROKEN at row {report.broken_seq}: {report.reason}")
    raise click.exceptions.Exit(1)


def _verify_on_the_archive(quiet: bool) -> ChainReport:
    from intake.archive.audit import verify_and_keep
    from intake.archive.db import session_factory

    engine = open_database(settings())
    with progress_bar(WALKING, quiet) as progress, session_factory(engine).begin() as session:
        return verify_and_keep(session, progress)
