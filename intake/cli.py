"""The `intake` command: render consent PDFs and manage consent definitions from a shell.

Every command calls the same plain-Python functions as the web app. Bad input (an invalid
submission, a broken definition, an unknown form) prints one `error: ...` line per problem to
stderr and exits with code 2, so scripts can tell it apart from a crash.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any, NoReturn

import click

from intake.archive.db import sqlite_url
from intake.archive.migrate import head_revision, upgrade
from intake.certificates import CertificateError, kept_certificates, read_certificate
from intake.config import Config
from intake.definition import ConsentDefinition, DefinitionError, FormCatalog
from intake.pdf import RenderSettings, render_consent
from intake.pdf.seal import check_seal
from intake.safe_write import write_file
from intake.submission import SubmissionInvalid, validate_submission

#: Exit code for input the command cannot use; click uses the same code for usage errors.
EXIT_BAD_INPUT = 2

pass_catalog = click.make_pass_decorator(FormCatalog)


def fail(*problems: str) -> NoReturn:
    """Print each problem on its own `error:` line to stderr and exit with code 2."""
    for problem in problems:
        click.echo(f"error: {problem}", err=True)
    raise click.exceptions.Exit(EXIT_BAD_INPUT)


class IntakeGroup(click.Group):
    """A group that reports a broken consent definition as one line, from any subcommand."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DefinitionError as exc:
            fail(str(exc))


@click.group(cls=IntakeGroup)
@click.option(
    "--forms-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of consent definitions (default: the FORMS_DIR setting).",
)
@click.pass_context
def main(ctx: click.Context, forms_dir: Path | None) -> None:
    """Tablet intake and signed consent PDFs for a clinic."""
    ctx.obj = FormCatalog(forms_dir or Config().FORMS_DIR)


# --- intake render -----------------------------------------------------------------------------


def read_json(path: Path) -> Any:
    """The JSON in `path`; exit with an error naming the file when it is unreadable or invalid."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"{path}: cannot read: {exc.strerror or exc}")
    except UnicodeDecodeError:
        fail(f"{path}: not UTF-8 text")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"{path}: not valid JSON: {exc}")


def demo_submission() -> Any:
    """The demo submission shipped with the package."""
    return json.loads(resources.files("intake").joinpath("demo_submission.json").read_text("utf-8"))


@main.command()
@click.option(
    "--input",
    "input_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Submission JSON file.",
)
@click.option("--demo", is_flag=True, help="Render the bundled demo submission.")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the PDF.",
)
@pass_catalog
def render(catalog: FormCatalog, input_path: Path | None, demo: bool, out: Path) -> None:
    """Validate a submission and write its consent PDF."""
    if demo == (input_path is not None):
        raise click.UsageError("give either --input FILE or --demo")
    data = demo_submission() if demo else read_json(input_path)  # type: ignore[arg-type]
    try:
        submission = validate_submission(data, catalog)
    except SubmissionInvalid as exc:
        fail(*(str(error) for error in exc.errors))
    config = Config()
    pdf = render_consent(
        catalog.get(submission.form_id),
        submission,
        settings=RenderSettings(
            clinic_address=config.CLINIC_ADDRESS,
            clinic_phone=config.CLINIC_PHONE,
            page_size=config.PAGE_SIZE,
        ),
    )
    try:
        # Owner-only (0600): a consent holds health data.
        write_file(out, pdf)
    except OSError as exc:
        fail(f"{out}: cannot write: {exc.strerror or exc}")
    click.echo(f"wrote {out} ({len(pdf)} bytes)")


# --- intake verify ----------------------------------------------------------------------------


@main.command()
@click.argument("pdf_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--trust",
    "trust_paths",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Accept seals made with this certificate (PEM or DER; repeatable) instead of the "
    "certificates kept in CERTIFICATES_DIR.",
)
@click.option("--password", help="Password of an encrypted copy.")
def verify(pdf_path: Path, trust_paths: tuple[Path, ...], password: str | None) -> None:
    """Check a consent's seal: intact, covering the whole file, made by the clinic.

    Exits 0 when every check holds and 1, with the reasons, when one does not.
    """
    try:
        trusted = [read_certificate(path) for path in trust_paths]
    except CertificateError as exc:
        fail(str(exc))
    certificates_dir = Config().folder("CERTIFICATES_DIR")
    if not trust_paths:
        trusted = kept_certificates(certificates_dir)
    report = check_seal(pdf_path.read_bytes(), trusted, password=password)
    verdict = "sealed by the clinic, unchanged since" if report.holds else "NOT VERIFIED"
    click.echo(f"{pdf_path}: {verdict}")
    for label, value in report.facts:
        click.echo(f"  {label}: {value}")
    for problem in report.problems:
        click.echo(f"  problem: {problem}")
    if not trust_paths and not trusted:
        click.echo(f"  note: no clinic certificate is kept in {certificates_dir}")
    if not report.holds:
        raise click.exceptions.Exit(1)


# --- intake db ... -----------------------------------------------------------------------------


@main.group()
def db() -> None:
    """The archive database."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Bring the archive database (DATABASE_URL, or SQLite in the instance folder) up to date."""
    config = Config()
    url = config.DATABASE_URL or sqlite_url(config.INSTANCE_PATH / "archive.sqlite3")
    upgrade(url)
    click.echo(f"archive database at schema {head_revision()}")


# --- intake form ... ---------------------------------------------------------------------------


@main.group()
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
