"""What every `intake` command shares: the settings, the archive, and one way to fail.

Bad input (an invalid submission, a broken definition, an unknown form, a setting it cannot use,
an out-of-date archive database) prints one `error: ...` line per problem to stderr and exits
with code 2, so scripts can tell it apart from a crash. `IntakeGroup` turns every known error a
service raises into those lines, so a command only calls the service.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from intake.config import Config
from intake.definition import FormCatalog

if TYPE_CHECKING:  # the archive, the signer and the errors are imported where they are used
    from sqlalchemy import Engine

    from intake.archive.service import Archive
    from intake.certificates import ClinicCertificate

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
    from intake.archive.database_copy import BackupError
    from intake.archive.export import ExportError
    from intake.archive.migrate import SchemaOutOfDate
    from intake.archive.staff import StaffError
    from intake.certificates import CertificateError
    from intake.config import SettingError
    from intake.definition import DefinitionError
    from intake.private_files import PrivateFilesError
    from intake.submission import SubmissionInvalid

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
    """A group that reports every known error of any subcommand as `error:` lines, exit 2.

    `modules` names, for each command, the module under `intake.cli` whose `register` adds it;
    that module is imported only when the command is asked for (run, or listed in `--help`).
    """

    def __init__(self, *args: Any, modules: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.modules = dict(modules or {})
        self._registered: set[str] = set()

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.modules, *super().list_commands(ctx)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = self.modules.get(cmd_name)
        if module is not None and module not in self._registered:
            self._registered.add(module)
            importlib.import_module(f"intake.cli.{module}").register(self)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise  # click's own ends (an exit code, a usage error): reported by click
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
    from intake.certificates import kept_certificates, read_certificate

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
    from intake.archive.service import Archive

    config = settings()
    archive_settings = config.archive_settings()
    engine = open_database(config)
    archive = Archive(archive_settings, catalog, engine=engine)
    click.get_current_context().call_on_close(archive.dispose)
    return archive


def open_database(config: Config) -> Engine:
    """The archive's database alone, for a command that reads only its tables (`audit
    verify`): refused as `open_archive` refuses it, disposed of when the command ends."""
    from sqlalchemy.exc import ArgumentError, OperationalError

    from intake.archive.db import make_engine
    from intake.archive.migrate import require_current
    from intake.private_files import tighten_instance

    config.checked_storage()  # every command refuses the settings the app would refuse
    tighten_instance(config)
    try:
        engine = make_engine(config.database_url)
    except (ArgumentError, ValueError) as exc:  # SQLAlchemy's words, without the URL
        fail(f"DATABASE_URL: {exc}")
    click.get_current_context().call_on_close(engine.dispose)
    try:
        require_current(engine)
    except OperationalError as exc:
        fail(f"cannot open the archive database: {exc.orig or exc}")
    return engine
