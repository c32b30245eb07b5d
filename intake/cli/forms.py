"""`intake form ...`: list, show and lock consent definitions."""

from __future__ import annotations

import json

import click

from intake.cli.runtime import fail, pass_catalog
from intake.definition import ConsentDefinition, FormCatalog


def register(main: click.Group) -> None:
    main.add_command(form)


@click.group()
def form() -> None:
    """List, show and lock consent definitions."""


def get_definition(catalog: FormCatalog, form_id: str) -> ConsentDefinition:
    try:
        return catalog.get(form_id)
    except KeyError:
        known = ", ".join(catalog.ids()) or "none"
        fail(f"no form {form_id!r} in {catalog.forms_dir} (known: {known})")


@form.command("list")
@pass_catalog
def list_forms(catalog: FormCatalog) -> None:
    """One line per form: id, version and title, separated by tabs."""
    for form_id in catalog.ids():
        definition = catalog.get(form_id)
        click.echo(f"{definition.id}\t{definition.version}\t{definition.title}")


@form.command()
@click.argument("form_id")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object instead.")
@pass_catalog
def show(catalog: FormCatalog, form_id: str, as_json: bool) -> None:
    """A form's version, content hash, screening questions and acknowledgments."""
    definition = get_definition(catalog, form_id)
    if as_json:
        summary = {
            "id": definition.id,
            "version": definition.version,
            "sha256": definition.sha256,
            "screening": [{"id": q.id, "level": q.level} for q in definition.screening],
            "acknowledgments": [a.id for a in definition.acknowledgments],
        }
        click.echo(json.dumps(summary, indent=2))
        return
    click.echo(f"{definition.id} version {definition.version}")
    click.echo(definition.title)
    click.echo(f"sha256: {definition.sha256}")
    click.echo("screening:")
    for q in definition.screening:
        click.echo(f"  {q.id} ({q.level})")
    click.echo("acknowledgments:")
    for a in definition.acknowledgments:
        click.echo(f"  {a.id}" + (" (electronic signature consent)" if a.esign else ""))


@form.command()
@pass_catalog
def lock(catalog: FormCatalog) -> None:
    """Record the hash of every new form version in versions.lock; released ones never change."""
    added = catalog.write_lock()
    for entry in added:
        click.echo(f"locked {entry}")
    if not added:
        click.echo(f"{catalog.lock_path.name} already records every form version")
