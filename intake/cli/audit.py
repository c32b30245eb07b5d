"""`intake audit verify`: the audit trail's hash chain."""

from __future__ import annotations

import click

from intake.cli.progress import progress_bar, quiet_option
from intake.cli.runtime import open_database, settings


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
    from intake.archive.audit import verify_and_keep
    from intake.archive.db import session_factory

    engine = open_database(settings())
    with progress_bar(WALKING, quiet) as progress, session_factory(engine).begin() as session:
        report = verify_and_keep(session, progress)
    if report.holds:
        click.echo(f"audit trail holds: {report.rows} rows")
        return
    click.echo(f"audit trail BROKEN at row {report.broken_seq}: {report.reason}")
    raise click.exceptions.Exit(1)
