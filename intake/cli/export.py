"""`intake export`: consents to a zip with a manifest, and `intake export verify`."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import click

from intake.archive.audit import CLI
from intake.archive.export import export_consents, verify_export
from intake.cli.progress import progress_bar, quiet_option
from intake.cli.runtime import fail, open_archive, trust_option, trusted_certificates
from intake.definition import FormCatalog


def register(main: click.Group) -> None:
    main.add_command(export)


#: The progress bars' labels (on a terminal only).
EXPORTING = "Exporting consents"
VERIFYING = "Verifying consents"

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@click.group(invoke_without_command=True)
@click.option("--since", metavar="YYYY-MM-DD", help="Export consents signed on or after this day.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the zip (owner-only: it holds health data).",
)
@quiet_option
@click.pass_context
def export(ctx: click.Context, since: str | None, out: Path | None, quiet: bool) -> None:
    """Export consents to a zip (or verify one).

    The zip holds consents/<id>.pdf for each consent signed on or after --since,
    records/<id>.pdf for each sealed course record made since, and manifest.json naming each
    one (a consent's patient and form), and each PDF's SHA-256 and size. Every PDF is
    checked against the archive's record on the way out. `intake export verify FILE` checks a
    zip later.
    """
    if ctx.invoked_subcommand is not None:
        if since is not None or out is not None:
            raise click.UsageError("--since and --out make an export; give them without verify")
        return
    if since is None or out is None:
        raise click.UsageError("give --since YYYY-MM-DD and --out FILE")
    try:
        if not _ISO_DATE.fullmatch(since):
            raise ValueError
        day = date.fromisoformat(since)
    except ValueError:
        fail("--since: must be a date written YYYY-MM-DD")
    if not out.parent.is_dir():
        fail(f"{out}: cannot write: no folder {out.parent}")
    archive = open_archive(ctx.find_object(FormCatalog))
    try:
        with progress_bar(EXPORTING, quiet) as progress:
            report = export_consents(archive, day, out, CLI, progress)
    except OSError as exc:
        fail(f"{out}: cannot write: {exc.strerror or exc}")
    records = f" and {report.records} course records" if report.records else ""
    click.echo(f"wrote {out}: {report.count} consents{records} signed on or after {day}")


@export.command("verify")
@click.argument("zip_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@trust_option
@quiet_option
def export_verify(zip_path: Path, trust_paths: tuple[Path, ...], quiet: bool) -> None:
    """Check an export zip against its manifest, and each PDF's seal.

    Recomputes every file's SHA-256 and size, looks for files missing or added, checks each
    PDF's seal, and that the manifest's id, name, date of birth and signing time are those
    sealed in the PDF. Exits 0 when all holds and 1, naming each problem, when not.
    """
    trusted = trusted_certificates(trust_paths)
    with progress_bar(VERIFYING, quiet) as progress:
        check = verify_export(zip_path, trusted, progress)
    if check.holds:
        records = f" and {check.records} course records" if check.records else ""
        click.echo(
            f"{zip_path}: {check.count} consents{records}, every file as the manifest records"
        )
        return
    click.echo(f"{zip_path}: NOT VERIFIED")
    for problem in check.problems:
        click.echo(f"  problem: {problem}")
    raise click.exceptions.Exit(1)
