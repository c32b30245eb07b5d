"""`intake export`: consents to a zip with a manifest, or (`--format fhir`) to a folder of FHIR
Bulk Data NDJSON; and `intake export verify`, which checks either."""

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
from intake.fhir.export import export_fhir
from intake.fhir.verify import verify_fhir_export


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
    type=click.Path(path_type=Path),
    help="Where to write the zip, or the FHIR export's new folder (owner-only: health data).",
)
@click.option(
    "--format",
    "export_format",
    type=click.Choice(["zip", "fhir"]),
    default="zip",
    show_default=True,
    help="A zip of the sealed PDFs, or FHIR R4B Bulk Data NDJSON with the PDFs beside it.",
)
@quiet_option
@click.pass_context
def export(
    ctx: click.Context, since: str | None, out: Path | None, export_format: str, quiet: bool
) -> None:
    """Export consents to a zip or a FHIR folder (or verify either).

    The zip holds consents/<id>.pdf for each consent signed on or after --since,
    records/<id>.pdf for each sealed course record made since, and manifest.json naming each
    one (a consent's patient and form), and each PDF's SHA-256 and size. Every PDF is
    checked against the archive's record on the way out. `intake export verify FILE` checks a
    zip later.

    With `--format fhir`, --out names a folder that does not exist yet; it gets one
    <Type>.ndjson a resource type, documents/<id>.pdf and a Bulk Data manifest.json (see the
    README). --since is optional there: without it, every archived consent.
    """
    if ctx.invoked_subcommand is not None:
        if since is not None or out is not None:
            raise click.UsageError("--since and --out make an export; give them without verify")
        return
    if export_format == "fhir":
        if out is None:
            raise click.UsageError("give --out FOLDER (and --since YYYY-MM-DD, if wanted)")
        _export_fhir(ctx, None if since is None else _day(since), out, quiet)
        return
    if since is None or out is None:
        raise click.UsageError("give --since YYYY-MM-DD and --out FILE")
    day = _day(since)
    if out.is_dir():
        fail(f"{out}: is a folder; give the zip's file name")
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


def _day(since: str) -> date:
    try:
        if not _ISO_DATE.fullmatch(since):
            raise ValueError
        return date.fromisoformat(since)
    except ValueError:
        fail("--since: must be a date written YYYY-MM-DD")


def _export_fhir(ctx: click.Context, day: date | None, out: Path, quiet: bool) -> None:
    if out.exists():
        fail(f"{out}: already exists; give a new folder")
    if not out.parent.is_dir():
        fail(f"{out}: cannot write: no folder {out.parent}")
    archive = open_archive(ctx.find_object(FormCatalog))
    request = "intake export --format fhir" + (f" --since {day.isoformat()}" if day else "")
    try:
        with progress_bar(EXPORTING, quiet) as progress:
            report = export_fhir(archive, day, out, CLI, progress, request=request)
    except OSError as exc:
        fail(f"{out}: cannot write: {exc.strerror or exc}")
    records = f" and {report.records} course records" if report.records else ""
    since = f" signed on or after {day}" if day else ""
    resources = sum(report.counts.values())
    click.echo(f"wrote {out}: {report.consents} consents{records}{since}, {resources} resources")


@export.command("verify")
@click.argument("zip_path", type=click.Path(exists=True, path_type=Path))
@trust_option
@quiet_option
def export_verify(zip_path: Path, trust_paths: tuple[Path, ...], quiet: bool) -> None:
    """Check an export (a zip, or a FHIR export's folder) against its manifest, and each
    PDF's seal.

    Recomputes every file's SHA-256 and size, looks for files missing or added, checks each
    PDF's seal, and that the manifest's id, name, date of birth and signing time are those
    sealed in the PDF. For a FHIR folder: every NDJSON file's SHA-256 and count, that every
    reference resolves, and each PDF's SHA-1, SHA-256, size and seal against the resources
    naming it. Exits 0 when all holds and 1, naming each problem, when not.
    """
    trusted = trusted_certificates(trust_paths)
    if zip_path.is_dir():
        with progress_bar(VERIFYING, quiet) as progress:
            fhir_check = verify_fhir_export(zip_path, trusted, progress)
        if fhir_check.holds:
            click.echo(
                f"{zip_path}: {fhir_check.resources} resources and {fhir_check.documents} "
                "sealed PDFs, every file as the manifest records, every reference resolved"
            )
            return
        click.echo(f"{zip_path}: NOT VERIFIED")
        for problem in fhir_check.problems:
            click.echo(f"  problem: {problem}")
        raise click.exceptions.Exit(1)
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
