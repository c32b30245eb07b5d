"""The `intake` command: consent PDFs, definitions, the archive and the server, from a shell.

One module per command group, each on the shared root `main`; `runtime` holds what they share.
Every command calls the same plain-Python services as the web app. A check that finds a problem
(`verify`, `audit verify`, `export verify`, `backup verify`, `archive repair`) reports it and
exits with code 1; input it cannot use exits with code 2 (see `runtime`).
"""

from __future__ import annotations

from pathlib import Path

import click

from intake.cli.runtime import IntakeGroup, settings
from intake.definition import FormCatalog


@click.group(cls=IntakeGroup)
@click.option(
    "--forms-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of consent definitions (default: the FORMS_DIR setting).",
)
@click.pass_context
def main(ctx: click.Context, forms_dir: Path | None) -> None:
    """Tablet intake and signed consent PDFs for a clinic."""
    ctx.obj = FormCatalog(forms_dir or settings().FORMS_DIR)


from intake.cli import (  # noqa: E402 - each module adds its commands to `main`
    archive,
    audit,
    backup,
    course,
    db,
    export,
    forms,
    render,
    serve,
    staff,
)

for module in (render, forms, db, serve, staff, archive, audit, export, backup, course):
    module.register(main)

__all__ = ["main"]
