"""`intake audit verify`: the audit trail's hash chain."""

from __future__ import annotations

import click

from intake.cli.runtime import open_archive, pass_catalog
from intake.definition import FormCatalog


def register(main: click.Group) -> None:
    main.add_command(audit_group)


@click.group("audit")
def audit_group() -> None:
    """The audit trail of who did what."""


@audit_group.command("verify")
@pass_catalog
def audit_verify(catalog: FormCatalog) -> None:
    """Walk the audit trail's hash chain; exit 1, naming the first row that does not hold."""
    report = open_archive(catalog).verify_audit()
    if report.holds:
        click.echo(f"audit trail holds: {report.rows} rows")
        return
    click.echo(f"audit trail BROKEN at row {report.broken_seq}: {report.reason}")
    raise click.exceptions.Exit(1)
