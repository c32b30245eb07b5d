"""`intake backup ...`: back up the whole archive, check a backup, restore one."""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy.exc import ArgumentError, OperationalError

from intake.archive.audit import CLI
from intake.archive.backup import make_backup, restore_backup, summary, verify_backup
from intake.archive.backup_key import BackupKey, make_key_file, read_key_file
from intake.archive.migrate import upgrade
from intake.cli.progress import progress_bar, quiet_option
from intake.cli.runtime import fail, open_archive, pass_catalog, settings
from intake.definition import FormCatalog
from intake.safe_write import make_folders

#: Said after restoring a backup made without --with-seal-key when no SIGNING_P12 is set.
NO_SEAL_KEY = (
    "  the backup holds no seal key: new consents are sealed with a new self-signed "
    "certificate (those before still verify), or set SIGNING_P12"
)


#: The progress bars' labels (on a terminal only).
BACKING_UP = "Copying PDFs"
CHECKING = "Checking files"
RESTORING = "Checking and restoring files"


def register(main: click.Group) -> None:
    main.add_command(backup_group)


pg_bin_option = click.option(
    "--pg-bin",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="PostgreSQL only: the folder holding pg_dump and pg_restore (default: found on PATH), "
    "such as /usr/lib/postgresql/15/bin.",
)


@click.group("backup")
def backup_group() -> None:
    """Back up the whole archive (database, sealed PDFs, certificates), check a backup, restore.

    Every backup is encrypted and authenticated with the key in BACKUP_KEY_FILE (make one with
    `intake backup key`), which the clinic keeps apart from the backups.
    """


def backup_key() -> BackupKey:
    """The key the BACKUP_KEY_FILE setting names (exit 2, naming the setting, without one)."""
    return read_key_file(settings().BACKUP_KEY_FILE)


@backup_group.command("key")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The new key file (owner-only); never overwritten.",
)
def backup_key_command(out: Path) -> None:
    """Make a new backup key; prints its fingerprint, never the key.

    Set BACKUP_KEY_FILE to its path, and keep a copy apart from the backups (another machine, a
    safe): without it no backup can be verified or restored.
    """
    key = make_key_file(out)
    click.echo(f"wrote {out}: backup key, fingerprint {key.fingerprint}")
    click.echo(f"  set BACKUP_KEY_FILE={out.absolute()}, and keep a copy apart from the backups")


@backup_group.command("create")
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="A new folder for the backup, or an existing one to make it in as "
    "intake-backup-<UTC time>.",
)
@click.option(
    "--with-seal-key",
    is_flag=True,
    help="Also back up the self-signed seal's private key (current-seal.pem); without it the "
    "backup holds the certificates only.",
)
@pg_bin_option
@quiet_option
@pass_catalog
def backup_create(
    catalog: FormCatalog, out: Path, with_seal_key: bool, pg_bin: Path | None, quiet: bool
) -> None:
    """Back up the archive while the app runs.

    A consistent copy of the database (SQLite's online backup, or pg_dump -Fc), then the PDFs
    its consents name (STORAGE=files) and every certificate, each file encrypted with the
    backup key, with manifest.json recording each file's SHA-256 under the key's HMAC. The
    folder is owner-only: it holds health data.
    """
    key = backup_key()
    archive = open_archive(catalog)
    try:
        with progress_bar(BACKING_UP, quiet) as progress:
            report = make_backup(
                archive, out, CLI, key, pg_bin=pg_bin, with_seal_key=with_seal_key,
                progress=progress,
            )  # fmt: skip
    except OSError as exc:
        fail(f"{out}: cannot write: {exc.strerror or exc}")
    click.echo(f"wrote {report.path}: {summary(report.manifest)}")
    click.echo(f"  manifest SHA-256 {report.manifest_sha256}")


@backup_group.command("verify")
@click.argument("backup", type=click.Path(exists=True, file_okay=False, path_type=Path))
@pg_bin_option
@quiet_option
def backup_verify(backup: Path, pg_bin: Path | None, quiet: bool) -> None:
    """Check a backup: made with the backup key, every file against the manifest, and the
    database copy against both.

    A PostgreSQL dump is restored into a throwaway database on the server DATABASE_URL names
    (dropped afterwards) and checked as a SQLite copy is. Exits 0 when all holds and 1, naming
    each problem, when not.
    """
    key = backup_key()
    with progress_bar(CHECKING, quiet) as progress:
        check = verify_backup(
            backup, key, pg_bin=pg_bin, server_url=settings().database_url, progress=progress
        )
    if not check.holds:
        click.echo(f"{backup}: NOT VERIFIED")
        for problem in check.problems:
            click.echo(f"  problem: {problem}")
        raise click.exceptions.Exit(1)
    manifest = check.manifest
    click.echo(
        f"{backup}: {summary(manifest)}; made {manifest['made_at']} "
        f"({manifest['database']}, STORAGE={manifest['storage']}); every file as the manifest "
        "records"
    )
    for note in check.notes:
        click.echo(f"  note: {note}")


@backup_group.command("restore")
@click.argument("backup", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--force",
    is_flag=True,
    help="Replace an archive that already holds consents, staff or audit rows (back it up first).",
)
@pg_bin_option
@quiet_option
@pass_catalog
def backup_restore(
    catalog: FormCatalog, backup: Path, force: bool, pg_bin: Path | None, quiet: bool
) -> None:
    """Restore a backup into this instance's archive; run it with the app stopped.

    The backup is checked first; an archive that is not empty is refused without --force. The
    restored archive is checked against the manifest: exits 1, naming each difference, if it
    does not match.
    """
    key = backup_key()
    config = settings()
    make_folders(config.INSTANCE_PATH)
    try:
        # An empty database gets the schema first, as `intake db upgrade` would.
        upgrade(config.database_url)
    except (ArgumentError, ValueError) as exc:
        fail(f"DATABASE_URL: {exc}")
    except OperationalError as exc:
        fail(f"cannot open the archive database: {exc.orig or exc}")
    with progress_bar(RESTORING, quiet) as progress:
        report = restore_backup(
            open_archive(catalog), backup, CLI, key, force=force, pg_bin=pg_bin,
            progress=progress,
        )  # fmt: skip
    if report.problems:
        click.echo(f"{backup}: restored, but the archive does not match the manifest")
        for problem in report.problems:
            click.echo(f"  problem: {problem}")
        raise click.exceptions.Exit(1)
    click.echo(f"restored {backup}: {summary(report.manifest)}")
    if not report.manifest.get("seal_key") and config.SIGNING_P12 is None:
        click.echo(NO_SEAL_KEY)
    if pending := report.manifest["consents"].get("pending"):
        click.echo(
            f"  {pending} consents are pending: the app finishes them when it starts "
            "(or run `intake archive repair`)"
        )
