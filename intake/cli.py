"""The `intake` command: consent PDFs, definitions, and the archive, from a shell.

Every command calls the same plain-Python functions as the web app. Bad input (an invalid
submission, a broken definition, an unknown form, an out-of-date archive database) prints one
`error: ...` line per problem to stderr and exits with code 2, so scripts can tell it apart from a
crash. A check that finds a problem (`verify`, `audit verify`, `export verify`, `archive repair`)
reports it and exits with code 1.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import sys
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any, NoReturn

import click
from pypdf import PdfReader
from pypdf.errors import PyPdfError
from sqlalchemy import select
from sqlalchemy.exc import ArgumentError, OperationalError

from intake.archive import audit
from intake.archive.audit import CLI
from intake.archive.db import archive_url
from intake.archive.export import ExportError, export_consents, verify_export
from intake.archive.migrate import SchemaOutOfDate, head_revision, require_current, upgrade
from intake.archive.models import ROLES, Staff
from intake.archive.service import Archive, ArchiveError, ConsentMissing
from intake.archive.staff import StaffError, change_staff, create_staff, normal_email
from intake.archive.web import settings_of
from intake.certificates import CertificateError, kept_certificates, read_certificate
from intake.config import Config
from intake.definition import ConsentDefinition, DefinitionError, FormCatalog
from intake.pdf import RenderSettings, render_consent
from intake.pdf.seal import SealReport, check_seal
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


def open_archive(catalog: FormCatalog) -> Archive:
    """The archive the settings name, made as the app makes it; closed when the command ends.

    Refuses (exit 2) a database whose schema is not the newest, with the command to run.
    """
    config = Config()
    values = {
        **vars(config),
        "ARCHIVE_DIR": config.folder("ARCHIVE_DIR"),
        "CERTIFICATES_DIR": config.folder("CERTIFICATES_DIR"),
    }
    try:
        settings = settings_of(values, config.INSTANCE_PATH)
    except ValueError as exc:  # a STORAGE it does not know
        fail(str(exc))
    try:
        archive = Archive(settings, catalog)
    except (ArgumentError, ValueError) as exc:  # SQLAlchemy's words, without the URL
        fail(f"DATABASE_URL: {exc}")
    click.get_current_context().call_on_close(archive.dispose)
    try:
        require_current(archive.engine)
    except SchemaOutOfDate as exc:
        fail(str(exc))
    except OperationalError as exc:
        fail(f"cannot open the archive database: {exc.orig or exc}")
    return archive


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
    except (ValueError, RecursionError):  # a number of thousands of digits; nesting too deep
        fail(f"{path}: not valid JSON: a number too long or nesting too deep")


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
    try:
        trusted = [read_certificate(path) for path in trust_paths]
    except CertificateError as exc:
        fail(str(exc))
    certificates_dir = Config().folder("CERTIFICATES_DIR")
    if not trust_paths:
        trusted = kept_certificates(certificates_dir)
    pdf = pdf_path.read_bytes()
    report = check_seal(pdf, trusted, password=password)
    if against_archive:
        compare_with_archive(open_archive(catalog), pdf, report, password=password)
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


#: The consent id in a seal's reason ("Consent <form> version <v>, document <id>") or at the end
#: of the PDF's keywords ("consent; <form>; version <v>; <id>").
_DOCUMENT_ID = re.compile(r"(?:document |; )([0-9A-Fa-f-]{32,36})$")


def document_id(pdf: bytes, report: SealReport, password: str | None) -> str | None:
    """The consent id a PDF names: in its seal's reason, else in its document information."""
    for label, value in report.facts:
        if label == "reason" and (match := _DOCUMENT_ID.search(value.strip())):
            return match.group(1)
    try:
        reader = PdfReader(io.BytesIO(pdf))
        if reader.is_encrypted and password is not None:
            reader.decrypt(password)
        keywords = str((reader.metadata or {}).get("/Keywords", ""))
    except (PyPdfError, ValueError, OSError):
        return None
    match = _DOCUMENT_ID.search(keywords.strip())
    return match.group(1) if match else None


def compare_with_archive(
    archive: Archive, pdf: bytes, report: SealReport, *, password: str | None
) -> None:
    """Add to `report` whether the file is the PDF the archive stored for its consent."""
    consent_id = document_id(pdf, report, password)
    if consent_id is None:
        report.problems.append("the file names no document id: no consent in the archive to match")
        return
    try:
        consent = archive.get(consent_id)
    except ConsentMissing:
        report.problems.append(f"no consent in the archive has this document id ({consent_id})")
        return
    if consent.pdf_sha256 is None or consent.archived_at is None:
        report.problems.append(f"consent {consent.id} is pending: the archive has no PDF of it yet")
        return
    sha256 = hashlib.sha256(pdf).hexdigest()
    if sha256 != consent.pdf_sha256:
        report.problems.append(
            f"the file's SHA-256 {sha256} does not match the archive's record for consent "
            f"{consent.id} ({consent.pdf_sha256})"
        )
        return
    report.facts.append(
        ("archive", f"matches consent {consent.id} (stored {consent.archived_at.date()})")
    )


# --- intake db ... -----------------------------------------------------------------------------


@main.group()
def db() -> None:
    """The archive database."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Bring the archive database (DATABASE_URL, or SQLite in the instance folder) up to date."""
    config = Config()
    upgrade(archive_url(config.DATABASE_URL, config.INSTANCE_PATH))
    click.echo(f"archive database at schema {head_revision()}")


# --- intake staff ... --------------------------------------------------------------------------


def check_role(_ctx: click.Context, _param: click.Parameter, role: str | None) -> str | None:
    """Refuse an unknown role before a password is asked for (same words as `StaffError`)."""
    if role is not None and role not in ROLES:
        fail(f"role: must be one of {', '.join(ROLES)}")
    return role


role_option = click.option(
    "--role",
    required=True,
    metavar="|".join(ROLES),
    callback=check_role,
    help="What the account may do; each role may do what the ones before it may.",
)


def new_password(from_stdin: bool) -> str:
    """A new password, asked for twice without echo, or the first line of stdin for scripts."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


password_stdin_option = click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of stdin instead of asking for it.",
)


@main.group()
def staff() -> None:
    """Staff accounts: one per person, for the staff pages."""


@staff.command("create")
@click.option("--email", required=True, help="The person's email address: their login.")
@click.option("--name", required=True, help="Their name, as shown on reviews.")
@role_option
@password_stdin_option
@pass_catalog
def staff_create(
    catalog: FormCatalog, email: str, name: str, role: str, password_stdin: bool
) -> None:
    """Create an account; the password is asked for twice (at least 12 characters)."""
    archive = open_archive(catalog)
    password = new_password(password_stdin)
    try:
        with archive.transaction() as session:
            member = create_staff(
                session, email=email, name=name, role=role, password=password, actor=CLI
            )
    except StaffError as exc:
        fail(str(exc))
    click.echo(f"created {member.email} ({member.role})")


@staff.command("list")
@pass_catalog
def staff_list(catalog: FormCatalog) -> None:
    """One line per account: email, name, role, active or disabled, separated by tabs."""
    archive = open_archive(catalog)
    with archive.sessions() as session:
        for member in session.scalars(select(Staff).order_by(Staff.email)):
            state = "active" if member.active else "disabled"
            click.echo(f"{member.email}\t{member.name}\t{member.role}\t{state}")


def change_account(archive: Archive, email: str, done: str, **change: Any) -> None:
    """Apply `change` (see `change_staff`) to the account with `email`, and say what was done."""
    try:
        with archive.transaction() as session:
            member = session.scalar(select(Staff).where(Staff.email == normal_email(email)))
            if member is None:
                fail(f"email: no staff account has the email {email}")
            change_staff(session, member, CLI, **change)
    except StaffError as exc:
        fail(str(exc))
    click.echo(f"{member.email}: {done}")


@staff.command("set-role")
@click.option("--email", required=True)
@role_option
@pass_catalog
def staff_set_role(catalog: FormCatalog, email: str, role: str) -> None:
    """Change an account's role; its open sessions end."""
    change_account(open_archive(catalog), email, f"role {role}", role=role)


@staff.command("disable")
@click.option("--email", required=True)
@pass_catalog
def staff_disable(catalog: FormCatalog, email: str) -> None:
    """Switch an account off: it can no longer log in, and its open sessions end."""
    change_account(open_archive(catalog), email, "disabled", active=False)


@staff.command("enable")
@click.option("--email", required=True)
@pass_catalog
def staff_enable(catalog: FormCatalog, email: str) -> None:
    """Switch an account back on."""
    change_account(open_archive(catalog), email, "enabled", active=True)


@staff.command("set-password")
@click.option("--email", required=True)
@password_stdin_option
@pass_catalog
def staff_set_password(catalog: FormCatalog, email: str, password_stdin: bool) -> None:
    """Set a new password (asked for twice); the account's open sessions end."""
    archive = open_archive(catalog)
    with archive.sessions() as session:
        known = session.scalar(select(Staff.id).where(Staff.email == normal_email(email)))
    if known is None:
        fail(f"email: no staff account has the email {email}")
    # Asked for before the change's transaction begins: nobody types inside a write lock.
    change_account(archive, email, "password changed", password=new_password(password_stdin))


# --- intake archive ... ------------------------------------------------------------------------


@main.group("archive")
def archive_group() -> None:
    """The consent archive: repair it; retention."""


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


# --- intake audit ... --------------------------------------------------------------------------


@main.group("audit")
def audit_group() -> None:
    """The audit trail of who did what."""


@audit_group.command("verify")
@pass_catalog
def audit_verify(catalog: FormCatalog) -> None:
    """Walk the audit trail's hash chain; exit 1, naming the first row that does not hold."""
    with open_archive(catalog).sessions() as session:
        report = audit.verify(session)
    if report.holds:
        click.echo(f"audit trail holds: {report.rows} rows")
        return
    click.echo(f"audit trail BROKEN at row {report.broken_seq}: {report.reason}")
    raise click.exceptions.Exit(1)


# --- intake export ... -------------------------------------------------------------------------

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@main.group(invoke_without_command=True)
@click.option("--since", metavar="YYYY-MM-DD", help="Export consents signed on or after this day.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the zip (owner-only: it holds health data).",
)
@click.pass_context
def export(ctx: click.Context, since: str | None, out: Path | None) -> None:
    """Export consents to a zip (or verify one).

    The zip holds consents/<id>.pdf for each consent signed on or after --since, and
    manifest.json naming each one's patient, form, and the PDF's SHA-256 and size. Every PDF is
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
        report = export_consents(archive, day, out, CLI)
    except ExportError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{out}: cannot write: {exc.strerror or exc}")
    click.echo(f"wrote {out}: {report.count} consents signed on or after {day}")


@export.command("verify")
@click.argument("zip_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def export_verify(zip_path: Path) -> None:
    """Check an export zip against its manifest.

    Recomputes every file's SHA-256 and size, and looks for files missing or added. Exits 0 when
    all holds and 1, naming each problem, when not.
    """
    check = verify_export(zip_path)
    if check.holds:
        click.echo(f"{zip_path}: {check.count} consents, every file as the manifest records")
        return
    click.echo(f"{zip_path}: NOT VERIFIED")
    for problem in check.problems:
        click.echo(f"  problem: {problem}")
    raise click.exceptions.Exit(1)


# --- intake backup ... -------------------------------------------------------------------------

from intake.archive.backup import (  # noqa: E402 - kept with the commands that use it
    BackupError,
    make_backup,
    restore_backup,
    summary,
    verify_backup,
)

pg_bin_option = click.option(
    "--pg-bin",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="PostgreSQL only: the folder holding pg_dump and pg_restore (default: found on PATH), "
    "such as /usr/lib/postgresql/15/bin.",
)


@main.group("backup")
def backup_group() -> None:
    """Back up the whole archive (database, sealed PDFs, certificates), check a backup, restore."""


@backup_group.command("create")
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="A new folder for the backup, or an existing one to make it in as "
    "intake-backup-<UTC time>.",
)
@pg_bin_option
@pass_catalog
def backup_create(catalog: FormCatalog, out: Path, pg_bin: Path | None) -> None:
    """Back up the archive while the app runs.

    A consistent copy of the database (SQLite's online backup, or pg_dump -Fc), then the PDFs
    its consents name (STORAGE=files) and every certificate, with manifest.json recording each
    file's SHA-256. The folder is owner-only: it holds health data.
    """
    archive = open_archive(catalog)
    try:
        report = make_backup(archive, out, CLI, pg_bin=pg_bin)
    except BackupError as exc:
        fail(*exc.problems)
    except OSError as exc:
        fail(f"{out}: cannot write: {exc.strerror or exc}")
    click.echo(f"wrote {report.path}: {summary(report.manifest)}")
    click.echo(f"  manifest SHA-256 {report.manifest_sha256}")


@backup_group.command("verify")
@click.argument("backup", type=click.Path(exists=True, file_okay=False, path_type=Path))
@pg_bin_option
def backup_verify(backup: Path, pg_bin: Path | None) -> None:
    """Check a backup: every file against the manifest, and the database copy against both.

    Exits 0 when all holds and 1, naming each problem, when not.
    """
    check = verify_backup(backup, pg_bin=pg_bin)
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
@pass_catalog
def backup_restore(catalog: FormCatalog, backup: Path, force: bool, pg_bin: Path | None) -> None:
    """Restore a backup into this instance's archive; run it with the app stopped.

    The backup is checked first; an archive that is not empty is refused without --force. The
    restored archive is checked against the manifest: exits 1, naming each difference, if it
    does not match.
    """
    config = Config()
    config.INSTANCE_PATH.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        # An empty database gets the schema first, as `intake db upgrade` would.
        upgrade(archive_url(config.DATABASE_URL, config.INSTANCE_PATH))
    except (ArgumentError, ValueError) as exc:
        fail(f"DATABASE_URL: {exc}")
    except OperationalError as exc:
        fail(f"cannot open the archive database: {exc.orig or exc}")
    archive = open_archive(catalog)
    try:
        report = restore_backup(archive, backup, CLI, force=force, pg_bin=pg_bin)
    except BackupError as exc:
        fail(*exc.problems)
    if report.problems:
        click.echo(f"{backup}: restored, but the archive does not match the manifest")
        for problem in report.problems:
            click.echo(f"  problem: {problem}")
        raise click.exceptions.Exit(1)
    click.echo(f"restored {backup}: {summary(report.manifest)}")
    if pending := report.manifest["consents"].get("pending"):
        click.echo(
            f"  {pending} consents are pending: the app finishes them when it starts "
            "(or run `intake archive repair`)"
        )


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
