"""`intake staff ...` on both databases: create, list, set-role, disable, enable, set-password."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from intake.archive.audit import CLI, Actor
from intake.archive.models import AuditEvent, Staff, utcnow
from intake.archive.service import Archive
from intake.archive.staff import LoginRefused, create_staff, login
from tests.support.app import Run, on_both_databases

app_config = pytest.fixture(on_both_databases, name="app_config")

PASSWORD = "correct horse battery"
NEW_PASSWORD = "staple in the margin"


def can_log_in(archive: Archive, email: str, password: str) -> bool:
    try:
        with archive.transaction() as session:
            login(session, email, password, Actor(), utcnow())
    except LoginRefused:
        return False
    return True


def add_staff(archive: Archive, email: str = "ann@example.org", role: str = "clinician") -> None:
    with archive.transaction() as session:
        create_staff(
            session, email=email, name="Ann Lee", role=role, password=PASSWORD, actor=Actor()
        )


def create(intake: Run, *extra: str, email: str = "Ann@Example.org", password: str = PASSWORD):
    return intake(
        "staff", "create", "--email", email, "--name", " Ann  Lee ", "--role", "admin",
        "--password-stdin", *extra, input=f"{password}\n",
    )  # fmt: skip


def test_create_reads_the_password_from_stdin(intake: Run, archive: Archive):
    result = create(intake)
    assert result.exit_code == 0, result.output
    assert result.stdout == "created ann@example.org (admin)\n"
    assert PASSWORD not in result.output
    with archive.sessions() as session:
        member = session.scalar(select(Staff))
        event = session.scalar(select(AuditEvent).order_by(AuditEvent.seq.desc()))
    assert (member.name, member.role, member.active) == ("Ann Lee", "admin", True)
    assert (event.event, event.target, event.user_agent) == (
        "staff created",
        member.id,
        CLI.user_agent,
    )
    assert can_log_in(archive, "ann@example.org", PASSWORD)


def test_create_asks_for_the_password_twice_without_showing_it(intake: Run, archive: Archive):
    typed = f"{PASSWORD}\nsomething else\n{PASSWORD}\n{PASSWORD}\n"
    result = intake(
        "staff", "create", "--email", "ann@example.org", "--name", "Ann Lee",
        "--role", "clinician", input=typed,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output.count("Password: ") == 2
    assert "Error: The two entered values do not match." in result.output
    assert PASSWORD not in result.output
    assert can_log_in(archive, "ann@example.org", PASSWORD)


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--email", "not-an-email", "error: email: is not an email address"),
        ("--name", "   ", "error: name: is required (at most 200 characters)"),
        ("--role", "nurse", "error: role: must be one of front-desk, clinician, admin"),
    ],
)
def test_create_names_the_bad_field(intake: Run, option: str, value: str, message: str):
    args = {"--email": "ann@example.org", "--name": "Ann Lee", "--role": "admin", option: value}
    result = intake(
        "staff", "create", *(part for pair in args.items() for part in pair), "--password-stdin",
        input=f"{PASSWORD}\n",
    )  # fmt: skip
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [message]
    assert result.stdout == ""


def test_create_refuses_a_short_password(intake: Run, archive: Archive):
    result = create(intake, password="short")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == ["error: password: must be at least 12 characters"]
    with archive.sessions() as session:
        assert session.scalar(select(Staff)) is None


def test_create_refuses_a_second_account_for_one_email(intake: Run, archive: Archive):
    add_staff(archive)
    result = create(intake, email="ANN@example.org")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: email: already has an account (one account per person)"
    ]


def test_an_unknown_role_is_refused_before_the_password_is_asked(intake: Run):
    result = intake(
        "staff", "create", "--email", "ann@example.org", "--name", "Ann", "--role", "nurse"
    )
    assert result.exit_code == 2
    assert "Password" not in result.output


def test_list_shows_every_account_by_email(intake: Run, archive: Archive):
    add_staff(archive, "zed@example.org", "front-desk")
    add_staff(archive, "ann@example.org", "clinician")
    assert intake("staff", "disable", "--email", "zed@example.org").exit_code == 0
    result = intake("staff", "list")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "ann@example.org\tAnn Lee\tclinician\tactive",
        "zed@example.org\tAnn Lee\tfront-desk\tdisabled",
    ]


def test_set_role(intake: Run, archive: Archive):
    add_staff(archive)
    result = intake("staff", "set-role", "--email", "Ann@example.org", "--role", "admin")
    assert result.exit_code == 0, result.output
    assert result.stdout == "ann@example.org: role admin\n"
    with archive.sessions() as session:
        assert session.scalar(select(Staff.role)) == "admin"
        event = session.scalar(select(AuditEvent).order_by(AuditEvent.seq.desc()))
    assert (event.event, event.user_agent) == ("staff changed", CLI.user_agent)

    result = intake("staff", "set-role", "--email", "ann@example.org", "--role", "boss")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: role: must be one of front-desk, clinician, admin"
    ]


def test_disable_then_enable(intake: Run, archive: Archive):
    add_staff(archive)
    result = intake("staff", "disable", "--email", "ann@example.org")
    assert (result.exit_code, result.stdout) == (0, "ann@example.org: disabled\n")
    assert not can_log_in(archive, "ann@example.org", PASSWORD)
    result = intake("staff", "enable", "--email", "ann@example.org")
    assert (result.exit_code, result.stdout) == (0, "ann@example.org: enabled\n")
    assert can_log_in(archive, "ann@example.org", PASSWORD)


def test_set_password_asks_twice(intake: Run, archive: Archive):
    add_staff(archive)
    result = intake(
        "staff", "set-password", "--email", "ann@example.org",
        input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith("ann@example.org: password changed\n")
    assert NEW_PASSWORD not in result.output
    assert not can_log_in(archive, "ann@example.org", PASSWORD)
    assert can_log_in(archive, "ann@example.org", NEW_PASSWORD)

    result = intake(
        "staff", "set-password", "--email", "ann@example.org", "--password-stdin",
        input="too short\n",
    )  # fmt: skip
    assert result.exit_code == 2
    assert result.stderr.splitlines() == ["error: password: must be at least 12 characters"]
    assert can_log_in(archive, "ann@example.org", NEW_PASSWORD)


@pytest.mark.parametrize(
    "command",
    [
        ["set-role", "--role", "admin"],
        ["disable"],
        ["enable"],
        ["set-password"],
    ],
)
def test_an_unknown_account_is_named(intake: Run, command: list[str]):
    result = intake("staff", command[0], "--email", "nobody@example.org", *command[1:])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: email: no staff account has the email nobody@example.org"
    ]
    assert "Password" not in result.output
