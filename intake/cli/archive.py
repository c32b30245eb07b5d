"""`intake archive ...`: repair the archive; retention; voiding a consent; renewing archival
timestamps."""

from __future__ import annotations

import click

from intake.archive.audit import CLI
from intake.archive.errors import ArchiveError, ConsentMissing
from intake.archive.marks import LONG_REASON, NO_REASON
from intake.archive.timestamps import renew_timestamps
from intake.cli.progress import progress_bar, quiet_option
from intake.cli.runtime import fail, open_archive, pass_catalog, settings
from intake.definition import FormCatalog

#: The void's problems that are about the reason given, reported as `error: reason: ...`.
REASON_PROBLEMS = (NO_REASON, LONG_REASON)
TIMESTAMPING = "Renewing timestamps"


def register(main: click.Group) -> None:
    main.add_command(archive_group)


@click.group("archive")
def archive_group() -> None:
    """The consent archive: repair it; retention; void a consent."""


@archive_group.command("repair")
@click.option(
    "--grace",
    type=click.FloatRange(min=0),
    default=0,
    show_default=True,
    metavar="SECONDS",
    help="Leave stored PDFs younger than this alone: a running app may be about to commit the "
    "consent that names one. Run with 0 only while the app is stopped; with the app running, "
    "give a grace (the app itself uses REPAIR_GRACE_SECONDS, 600).",
)
@pass_catalog
def archive_repair(catalog: FormCatalog, grace: float) -> None:
    """Finish consents left pending, and remove stored PDFs that no consent names.

    Prints what it did, and each consent it still cannot finish with the reason; exits 1 if any.
    """
    report = open_archive(catalog).repair(CLI, grace_seconds=grace)
    click.echo(
        f"archive repair: {len(report.finished)} finished, {len(report.failed)} still failing, "
        f"{len(report.removed)} unnamed PDFs removed"
    )
    for consent_id in report.finished:
        click.echo(f"  finished: consent {consent_id}")
    for sha256 in report.removed:
        click.echo(f"  removed: PDF {sha256}")
    for consent_id, reason in report.failed:
        click.echo(f"  still failing: consent {consent_id}: {reason}")
    if report.failed:
        raise click.exceptions.Exit(1)


@archive_group.command("due")
@pass_catalog
def archive_due(catalog: FormCatalog) -> None:
    """List consents past retention, oldest first.

    One line each, separated by tabs: id, signed on, kept until, adult or minor. No patient
    names: to see whose a consent is, log in to the staff pages and open /staff/consents/ID.
    Then `intake archive delete ID`.
    """
    archive = open_archive(catalog)
    due = archive.due()
    for consent in due:
        age = "minor" if consent.is_minor else "adult"
        click.echo(f"{consent.id}\t{consent.signed_on}\t{archive.retained_until(consent)}\t{age}")
    if not due:
        click.echo("no consent is past retention", err=True)


@archive_group.command("delete")
@click.argument("consent_id", metavar="ID")
@click.option("--yes", is_flag=True, help="Delete without asking first.")
@pass_catalog
def archive_delete(catalog: FormCatalog, consent_id: str, yes: bool) -> None:
    """Delete a consent past retention; asks first, unless --yes.

    Its answers, PDF and reviews go; its id, dates and the audit trail stay.
    """
    archive = open_archive(catalog)
    try:
        consent = archive.get(consent_id)
    except ConsentMissing:
        fail(f"{consent_id}: no consent in the archive has this id")
    if not yes:
        click.confirm(
            f"Delete consent {consent.id} (signed {consent.signed_on}, kept until "
            f"{archive.retained_until(consent)})? This cannot be undone",
            abort=True,
        )
    try:
        archive.delete(consent.id, CLI)
    except ArchiveError as exc:
        fail(f"{consent.id}: {exc}")
    click.echo(f"deleted consent {consent.id}")


@archive_group.command("void")
@click.argument("consent_id", metavar="ID")
@click.option("--reason", required=True, help="Why the consent is void (kept with it).")
@pass_catalog
def archive_void(catalog: FormCatalog, consent_id: str, reason: str) -> None:
    """Mark a consent taken by mistake or forged as VOID, with the reason.

    It is kept: its answers and sealed PDF stay as they are, staff see it marked VOID, and the
    audit trail records it.
    """
    try:
        open_archive(catalog).void(consent_id, reason, CLI)
    except ConsentMissing:
        fail(f"{consent_id}: no consent in the archive has this id")
    except ArchiveError as exc:
        fail(f"{'reason' if str(exc) in REASON_PROBLEMS else consent_id}: {exc}")
    click.echo(f"voided consent {consent_id}")


@archive_group.command("timestamp")
@click.option(
    "--within-days",
    type=click.IntRange(min=0),
    default=None,
    metavar="DAYS",
    help="Renew where the last timestamp's certificate expires within this many days "
    "(default: TIMESTAMP_RENEW_DAYS).",
)
@quiet_option
@pass_catalog
def archive_timestamp(catalog: FormCatalog, within_days: int | None, quiet: bool) -> None:
    """Add a new archival document timestamp to every consent whose last one expires soon.

    Each is a new incremental revision, audited; interrupted, run it again. Exits 1 if any
    consent could not be renewed.
    """
    config = settings()
    if not config.TSA_URL:
        fail("TSA_URL: no timestamp authority is set")
    days = config.TIMESTAMP_RENEW_DAYS if within_days is None else within_days
    archive = open_archive(catalog)
    with progress_bar(TIMESTAMPING, quiet) as progress:
        report = renew_timestamps(
            archive, CLI, tsa_url=config.TSA_URL, within_days=days, progress=progress
        )
    click.echo(
        f"archive timestamp: {len(report.renewed)} renewed, {len(report.failed)} failed "
        f"(expiring within {days} days; {report.read} PDFs read for their expiry)"
    )
    for consent_id, reason in report.failed:
        click.echo(f"  failed: consent {consent_id}: {reason}")
    if report.failed:
        raise click.exceptions.Exit(1)
