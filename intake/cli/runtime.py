"""What every `intake` command shares: the settings, the archive, and one way to fail.

Bad input (an invalid submission, a broken definition, an unknown form, a setting it cannot use,
an out-of-date archive database) prints one `error: ...` line per problem to stderr and exits
with code 2, so scripts can tell it apart from a crash. `IntakeGroup` turns every known error a
service raises into those lines, so a command only calls the service.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn

import click
from sqlalchemy.exc import ArgumentError, OperationalError

from intake.archive.database_copy import BackupError
from intake.archive.export import ExportError
from intake.archive.migrate import SchemaOutOfDate, require_current
from intake.archive.service import Archive
from intake.archive.staff import StaffError
from intake.certificates import (
    CertificateError,
    ClinicCertificate,
    kept_certificates,
    read_certificate,
)
from intake.config import Config, SettingError
from intake.definition import DefinitionError, FormCatalog
from intake.private_files import PrivateFilesError, tighten_instance
from intake.submission import SubmissionInvalid

#: Exit code for input the command cannot use; click uses the same code for usage errors.
EXIT_BAD_INPUT = 2

pass_catalog = click.make_pass_decorator(FormCatalog)


def fail(*problems: str) -> NoReturn:
    """Print each problem on its own `error:` line to stderr and exit with code 2."""
    for problem in problems:
        click.echo(f"error: {problem}", err=True)
    raise click.exceptions.Exit(EXIT_BAD_INPUT)


def problems_of(error: Exception) -> list[str] | None:
    """The lines a known error is reported with, or None for one that is a crash."""
    if isinstance(error, SubmissionInvalid):
        return [str(problem) for problem in error.errors]
    if isinstance(error, BackupError):
        return error.problems
    if isinstance(error, DefinitionError | SettingError | StaffError | ExportError):
        return [str(error)]
    if isinstance(error, CertificateError | SchemaOutOfDate | PrivateFilesError):
        return [str(error)]
    return None


class IntakeGroup(click.Group):
    """A group that reports every known error of any subcommand as `error:` lines, exit 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as error:
            problems = problems_of(error)
            if problems is None:
                raise
            fail(*problems)


trust_option = click.option(
    "--trust",
    "trust_paths",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Accept seals made with this certificate (PEM or DER; repeatable) instead of the "
    "certificates kept in CERTIFICATES_DIR.",
)


def trusted_certificates(trust_paths: tuple[Path, ...]) -> list[ClinicCertificate]:
    """The certificates `--trust` names, else every one the clinic has sealed with."""
    if trust_paths:
        return [read_certificate(path) for path in trust_paths]
    return kept_certificates(settings().CERTIFICATES_DIR)


def settings() -> Config:
    """The settings of this run, read from the environment."""
    return Config()


def open_archive(catalog: FormCatalog) -> Archive:
    """The archive the settings name, made as the app makes it; closed when the command ends.

    Refuses (exit 2) a database whose schema is not the newest, with the command to run. The
    private folders and files are made owner-only first (`tighten_instance`).
    """
    config = settings()
    archive_settings = config.archive_settings()
    tighten_instance(config)
    try:
        archive = Archive(archive_settings, catalog)
    except (ArgumentError, ValueError) as exc:  # SQLAlchemy's words, without the URL
        fail(f"DATABASE_URL: {exc}")
    click.get_current_context().call_on_close(archive.dispose)
    try:
        require_current(archive.engine)
    except OperationalError as exc:
        fail(f"cannot open the archive database: {exc.orig or exc}")
    return archive
