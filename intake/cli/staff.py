"""`intake staff ...`: staff accounts, one per person, for the staff pages."""

from __future__ import annotations

import sys
from typing import Any

import click

from intake.archive.accounts import Accounts
from intake.archive.audit import CLI
from intake.archive.models import ROLES
from intake.cli.runtime import fail, open_archive, pass_catalog
from intake.definition import FormCatalog


def register(main: click.Group) -> None:
    main.add_command(staff)


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


@click.group()
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
    accounts = Accounts(open_archive(catalog))
    password = new_password(password_stdin)
    member = accounts.create(email=email, name=name, role=role, password=password, actor=CLI)
    click.echo(f"created {member.email} ({member.role})")


@staff.command("list")
@pass_catalog
def staff_list(catalog: FormCatalog) -> None:
    """One line per account: email, name, role, active or disabled, separated by tabs."""
    for member in Accounts(open_archive(catalog)).all():
        state = "active" if member.active else "disabled"
        click.echo(f"{member.email}\t{member.name}\t{member.role}\t{state}")


def change_account(accounts: Accounts, email: str, done: str, **change: Any) -> None:
    """Apply `change` (see `Accounts.change`) to the account with `email`; say what was done."""
    member = accounts.change_by_email(email, CLI, **change)
    click.echo(f"{member.email}: {done}")


@staff.command("set-role")
@click.option("--email", required=True)
@role_option
@pass_catalog
def staff_set_role(catalog: FormCatalog, email: str, role: str) -> None:
    """Change an account's role; its open sessions end."""
    change_account(Accounts(open_archive(catalog)), email, f"role {role}", role=role)


@staff.command("disable")
@click.option("--email", required=True)
@pass_catalog
def staff_disable(catalog: FormCatalog, email: str) -> None:
    """Switch an account off: it can no longer log in, and its open sessions end."""
    change_account(Accounts(open_archive(catalog)), email, "disabled", active=False)


@staff.command("enable")
@click.option("--email", required=True)
@pass_catalog
def staff_enable(catalog: FormCatalog, email: str) -> None:
    """Switch an account back on."""
    change_account(Accounts(open_archive(catalog)), email, "enabled", active=True)


@staff.command("reset-second-factor")
@click.option("--email", required=True)
@pass_catalog
def staff_reset_second_factor(catalog: FormCatalog, email: str) -> None:
    """Switch an account's two-step login off (a lost phone and lost recovery codes); an admin
    is asked to set up a new one at the next login."""
    accounts = Accounts(open_archive(catalog))
    member = accounts.by_email(email)
    if member is None:
        fail(f"email: no staff account has the email {email}")
    accounts.remove_second_factor(member.id, CLI, admin_may=True)
    click.echo(f"{member.email}: two-step login switched off")


@staff.command("set-password")
@click.option("--email", required=True)
@password_stdin_option
@pass_catalog
def staff_set_password(catalog: FormCatalog, email: str, password_stdin: bool) -> None:
    """Set a new password (asked for twice); the account's open sessions end."""
    accounts = Accounts(open_archive(catalog))
    if accounts.by_email(email) is None:
        fail(f"email: no staff account has the email {email}")
    # Asked for before the change's transaction begins: nobody types inside a write lock.
    change_account(accounts, email, "password changed", password=new_password(password_stdin))
