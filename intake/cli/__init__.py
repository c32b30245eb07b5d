"""The `intake` command: consent PDFs, definitions, the archive and the server, from a shell.

One module per command group, each on the shared root `main`; `runtime` holds what they share.
Every command calls the same plain-Python services as the web app. A check that finds a problem
(`verify`, `audit verify`, `export verify`, `backup verify`, `archive repair`) reports it and
exits with code 1; input it cannot use exits with code 2 (see `runtime`).

A command's module is imported when the command runs (`COMMANDS`), so each run imports only
what its own command needs: `intake audit verify` reads the database without the PDF engine,
the signer or the web app.
"""

from __future__ import annotations

from pathlib import Path

import click

from intake.cli.runtime import IntakeGroup, settings
from intake.definition import FormCatalog

#: Each command of `main`, and the module under `intake.cli` that adds it (its `register`).
COMMANDS = {
    "render": "render",
    "verify": "render",
    "form": "forms",
    "db": "db",
    "serve": "serve",
    "staff": "staff",
    "archive": "archive",
    "audit": "audit",
    "export": "export",
    "backup": "backup",
    "course": "course",
}


@click.group(cls=IntakeGroup, modules=COMMANDS)
@click.option(
    "--forms-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of consent definitions (default: the FORMS_DIR setting).",
)
@click.pass_context
def main(ctx: click.Context, forms_dir: Path | None) -> None:
    """Tablet intake and signed consent PDFs for a clinic."""
    ctx.obj = FormCatalog(forms_dir or settings().FORMS_DIR)


__all__ = ["main"]
