"""`intake render` (a submission's consent PDF, as a preview) and `intake verify` (a seal)."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import click

from intake.archive.verify import compare_with_archive
from intake.certificates import kept_roots
from intake.cli.runtime import (
    fail,
    open_archive,
    pass_catalog,
    settings,
    trust_option,
    trusted_certificates,
)
from intake.definition import FormCatalog
from intake.pdf import render_consent
from intake.pdf.ltv import LEVELS, expected_level
from intake.pdf.seal import SealReport, check_seal
from intake.safe_write import write_file
from intake.submission import validate_submission


def register(main: click.Group) -> None:
    main.add_command(render)
    main.add_command(verify)


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
    except (ValueError, RecursionError):  # a number of thousands of digits; nesting too deep
        fail(f"{path}: not valid JSON: a number too long or nesting too deep")


def demo_submission() -> Any:
    """The demo submission shipped with the package."""
    return json.loads(resources.files("intake").joinpath("demo_submission.json").read_text("utf-8"))


@click.command()
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
    """Validate a submission and write its consent PDF: a preview, marked so on every page."""
    if demo == (input_path is not None):
        raise click.UsageError("give either --input FILE or --demo")
    data = demo_submission() if demo else read_json(input_path)  # type: ignore[arg-type]
    submission = validate_submission(data, catalog)
    pdf = render_consent(
        catalog.get(submission.form_id, submission.language),
        submission,
        settings=settings().render_settings(),
    )
    try:
        # Owner-only (0600): a consent holds health data.
        write_file(out, pdf)
    except OSError as exc:
        fail(f"{out}: cannot write: {exc.strerror or exc}")
    click.echo(f"wrote {out} ({len(pdf)} bytes)")


def level_notes(report: SealReport, ca_certificate: bool, timestamp_authority: bool) -> list[str]:
    """How the level found compares with what the settings ask, and why it is no higher."""
    asked, ceiling = expected_level(ca_certificate, timestamp_authority)
    found = report.level
    if LEVELS.index(found) < LEVELS.index(asked):
        return [f"the settings ask for {asked}, the seal is {found}: " + "; ".join(report.short_of)]
    if ceiling:
        return [f"{asked} is the most these settings give: {ceiling}"]
    return []


@click.command()
@click.argument("pdf_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@trust_option
@click.option("--password", help="Password of an encrypted copy.")
@click.option(
    "--archive",
    "against_archive",
    is_flag=True,
    help="Also check that the file is the one the archive stored for the consent its document "
    "id names (same SHA-256). A patient's encrypted copy never is: the archive keeps the "
    "clinic's.",
)
@pass_catalog
def verify(
    catalog: FormCatalog,
    pdf_path: Path,
    trust_paths: tuple[Path, ...],
    password: str | None,
    against_archive: bool,
) -> None:
    """Check a consent's seal: intact, covering the whole file, made by the clinic.

    With --archive, also that it is the very file the archive stored for its consent. Exits 0
    when every check holds and 1, with the reasons, when one does not.
    """
    trusted = trusted_certificates(trust_paths)
    config = settings()
    certificates_dir = config.CERTIFICATES_DIR
    pdf = pdf_path.read_bytes()
    report = check_seal(pdf, trusted, password=password, roots=kept_roots(certificates_dir))
    if against_archive:
        compare_with_archive(open_archive(catalog), pdf, report, password=password)
    verdict = "sealed by the clinic, unchanged since" if report.holds else "NOT VERIFIED"
    click.echo(f"{pdf_path}: {verdict}")
    for label, value in report.facts:
        click.echo(f"  {label}: {value}")
    for problem in report.problems:
        click.echo(f"  problem: {problem}")
    if report.level:
        for note in level_notes(report, bool(config.SIGNING_P12), bool(config.TSA_URL)):
            click.echo(f"  note: {note}")
    if not trust_paths and not trusted:
        click.echo(f"  note: no clinic certificate is kept in {certificates_dir}")
    if not report.holds:
        raise click.exceptions.Exit(1)
