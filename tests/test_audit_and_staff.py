"""The audit trail's hash chain, and staff accounts, logins and sessions, on both databases."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, text

from intake.archive import audit
from intake.archive.audit import Actor
from intake.archive.models import AuditEvent, Staff
from intake.archive.service import Archive
from intake.archive.staff import (
    LoginRefused,
    StaffError,
    change_staff,
    check_session,
    create_staff,
    login,
    logout,
    role_allows,
)
from intake.canonical import canonical_json
from tests.support.app import CLI_SETTINGS, on_both_databases
from tests.test_export_streaming import on_a_terminal

app_config = pytest.fixture(on_both_databases, name="app_config")

DESK = Actor(ip="198.51.100.4", user_agent="Front desk")
T0 = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"


def unlock_audit(archive: Archive, session) -> None:  # noqa: ANN001
    """What someone with write access to the database could do: switch the guard off."""
    if archive.engine.dialect.name == "sqlite":
        session.execute(text("DROP TRIGGER audit_events_no_update"))
        session.execute(text("DROP TRIGGER audit_events_no_delete"))
    else:
        session.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))


def write_events(archive: Archive, count: int) -> None:
    with archive.transaction() as session:
        for i in range(count):
            audit.record(session, "consent viewed", DESK, f"{i:032x}")


def test_an_untouched_trail_holds(archive: Archive):
    write_events(archive, 5)
    with archive.sessions() as session:
        report = audit.verify(session)
    assert report.holds and report.rows == 5


def test_an_empty_trail_holds(archive: Archive):
    with archive.sessions() as session:
        assert audit.verify(session).holds


@pytest.mark.parametrize(
    ("change", "broken", "why"),
    [
        ("UPDATE audit_events SET ip = '10.0.0.1' WHERE seq = 3", 3, "row 3 was changed"),
        ("UPDATE audit_events SET event = 'consent downloaded' WHERE seq = 1", 1, "row 1 was"),
        ("DELETE FROM audit_events WHERE seq = 2", 2, "row 2 is missing"),
        ("UPDATE audit_events SET target = 'x' WHERE seq = 5", 5, "row 5 (the newest) was"),
        ("DELETE FROM audit_events WHERE seq = 5", 5, "newest rows were removed"),
    ],
)
def test_a_changed_or_removed_row_is_named(archive: Archive, change: str, broken: int, why: str):
    write_events(archive, 5)
    with archive.transaction() as session:
        unlock_audit(archive, session)
        session.execute(text(change))
    with archive.sessions() as session:
        report = audit.verify(session)
    assert not report.holds
    assert report.broken_seq == broken
    assert why in report.reason


def test_audit_rows_name_ids_not_patients(archive: Archive):
    with pytest.raises(ValueError, match="unknown audit event"):
        with archive.transaction() as session:
            audit.record(session, "patient name was Zoë", DESK)


# Staff accounts.


def make_staff(archive: Archive, email: str = "desk@clinic.test", role: str = "front-desk"):
    with archive.transaction() as session:
        return create_staff(
            session, email=email, name="Dana Desk", role=role, password=PASSWORD, actor=DESK
        )


def try_login(archive: Archive, email: str, password: str, *, at: datetime, actor: Actor = DESK):
    with archive.transaction() as session:
        try:
            return login(session, email, password, actor, at)
        except LoginRefused as refused:
            return refused


def test_passwords_are_stored_as_argon2id(archive: Archive):
    staff = make_staff(archive)
    assert staff.password_hash.startswith("$argon2id$")
    assert PASSWORD not in staff.password_hash


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"name": "   "}, "name"),
        ({"role": "owner"}, "role"),
        ({"password": "short"}, "password"),
    ],
)
def test_bad_staff_input_names_the_field(archive: Archive, fields: dict[str, str], field: str):
    values = {"email": "a@clinic.test", "name": "A B", "role": "admin", "password": PASSWORD}
    with pytest.raises(StaffError) as raised:
        with archive.transaction() as session:
            create_staff(session, **(values | fields), actor=DESK)
    assert raised.value.field == field


def test_one_account_per_email(archive: Archive):
    make_staff(archive, "Dana@Clinic.test")
    with pytest.raises(StaffError, match="already has an account"):
        make_staff(archive, "dana@clinic.test ")


def test_roles_are_ordered():
    assert role_allows("admin", "clinician") and role_allows("clinician", "front-desk")
    assert not role_allows("front-desk", "clinician") and not role_allows("clinician", "admin")
    assert not role_allows("owner", "front-desk")


def test_login_and_a_live_session(archive: Archive):
    staff = make_staff(archive)
    token = try_login(archive, "DESK@clinic.test", PASSWORD, at=T0)
    assert isinstance(token, str)
    with archive.transaction() as session:
        check = check_session(session, token, DESK, T0 + timedelta(minutes=14))
    assert check.staff is not None and check.staff.id == staff.id
    with archive.transaction() as session:  # activity moved the idle clock on
        assert check_session(session, token, DESK, T0 + timedelta(minutes=28)).staff is not None


def test_fifteen_idle_minutes_log_off(archive: Archive):
    make_staff(archive)
    token = try_login(archive, "desk@clinic.test", PASSWORD, at=T0)
    with archive.transaction() as session:
        check = check_session(session, token, DESK, T0 + timedelta(minutes=15, seconds=1))
    assert check.staff is None and check.idled_out
    with archive.transaction() as session:
        again = check_session(session, token, DESK, T0 + timedelta(minutes=16))
    assert again.staff is None and not again.idled_out
    with archive.sessions() as session:
        assert "logoff idle" in session.scalars(select(AuditEvent.event)).all()


def test_logout_ends_the_session_for_good(archive: Archive):
    make_staff(archive)
    token = try_login(archive, "desk@clinic.test", PASSWORD, at=T0)
    with archive.transaction() as session:
        logout(session, token, DESK, T0 + timedelta(minutes=1))
    with archive.transaction() as session:
        assert check_session(session, token, DESK, T0 + timedelta(minutes=2)).staff is None


def test_three_failures_for_an_account_make_the_next_login_wait_a_little(archive: Archive):
    make_staff(archive)
    for i in range(3):
        other_ip = Actor(ip=f"203.0.113.{i}", user_agent="x")
        refused = try_login(archive, "desk@clinic.test", "wrong", at=T0, actor=other_ip)
        assert "do not match" in refused.message
    refused = try_login(archive, "desk@clinic.test", PASSWORD, at=T0 + timedelta(seconds=5))
    assert isinstance(refused, LoginRefused)
    assert refused.message == "Too many failed attempts. Wait 10 seconds, then try again."
    token = try_login(archive, "desk@clinic.test", PASSWORD, at=T0 + timedelta(seconds=16))
    assert isinstance(token, str)


def test_failures_from_one_address_make_guesses_wait_but_not_a_colleague(archive: Archive):
    make_staff(archive)
    for i in range(10):
        try_login(archive, f"nobody{i}@clinic.test", "wrong", at=T0)
    refused = try_login(archive, "nobody@clinic.test", "wrong", at=T0 + timedelta(seconds=5))
    assert isinstance(refused, LoginRefused) and "Wait 10 seconds" in refused.message
    # The right password of an account with no failures of its own opens from that address.
    token = try_login(archive, "desk@clinic.test", PASSWORD, at=T0 + timedelta(seconds=5))
    assert isinstance(token, str)


def test_an_unknown_email_and_a_wrong_password_read_the_same(archive: Archive):
    make_staff(archive)
    unknown = try_login(archive, "who@clinic.test", PASSWORD, at=T0)
    wrong = try_login(archive, "desk@clinic.test", "not it at all", at=T0)
    assert unknown.message == wrong.message
    with archive.sessions() as session:
        failures = session.scalars(
            select(AuditEvent).where(AuditEvent.event == "login failed")
        ).all()
    assert len(failures) == 2
    assert all("who@" not in row.target and PASSWORD not in row.target for row in failures)


def test_a_switched_off_account_cannot_log_in_and_its_sessions_end(archive: Archive):
    staff = make_staff(archive)
    token = try_login(archive, "desk@clinic.test", PASSWORD, at=T0)
    with archive.transaction() as session:
        change_staff(session, session.get(Staff, staff.id), DESK, active=False)
    with archive.transaction() as session:
        assert check_session(session, token, DESK, T0).staff is None
    assert isinstance(try_login(archive, "desk@clinic.test", PASSWORD, at=T0), LoginRefused)
    with archive.sessions() as session:
        events = session.scalars(select(AuditEvent.event).order_by(AuditEvent.seq)).all()
        assert audit.verify(session).holds
    assert events == ["staff created", "login", "staff changed", "login failed"]


@given(
    seq=st.integers(min_value=1, max_value=2**53),
    at=st.datetimes(timezones=st.just(UTC)),
    texts=st.lists(st.text(), min_size=6, max_size=6),
    staff=st.none() | st.text(),
)
def test_a_rows_hash_is_that_of_its_canonical_json(seq, at, texts, staff):
    """The walk spells each row's JSON itself: byte for byte what `canonical_json` gives, for
    any text (quotes, backslashes, control characters, any script), aware or as stored."""
    ip, user_agent, event, target, prev, _ = texts
    fields = [seq, at.isoformat(), staff or "", ip, user_agent, event, target, prev]
    expected = hashlib.sha256(canonical_json(fields)).hexdigest()
    row = (seq, at, staff, ip, user_agent, event, target, prev)
    assert audit.chained_sha256(row) == expected
    assert audit.chained_sha256((seq, at.replace(tzinfo=None), *row[2:])) == expected


def _as_stored(at: datetime, form: int) -> Any:
    """`at` as a driver may hand it back: SQLAlchemy's SQLite text, other text `fromisoformat`
    reads, or a datetime with or without its zone."""
    plain = at.replace(tzinfo=None)
    return [
        f"{plain.year:04d}-{plain:%m-%d %H:%M:%S}.{plain.microsecond:06d}",
        plain.isoformat(sep=" "),
        plain.isoformat(),
        plain,
        at,
    ][form]


@given(
    rows=st.lists(
        st.tuples(
            st.datetimes(timezones=st.just(UTC)),
            st.integers(min_value=0, max_value=4),
            st.none() | st.text(),
            st.lists(st.text(), min_size=5, max_size=5),
            st.booleans(),
        ),
        min_size=1,
        max_size=8,
    ),
    form=st.none() | st.integers(min_value=0, max_value=4),
)
def test_a_pages_hashes_are_those_of_its_rows_canonical_json(rows, form):
    """The whole-trail walk hashes a page of rows at once (`page_hashes`): each hash is still
    that of the row's canonical JSON, whatever the texts, and however the driver hands the
    time (all of a page in one form, as a driver does, or forms mixed)."""
    start, page, expected = 7, [], []
    for n, (at, own_form, staff, texts, plain) in enumerate(rows):
        if plain:  # the common row: nothing to escape
            texts = [f"{name}-{n}" for name in ("10.0.0.1", "agent", "login", "target", "0f")]
        stored = _as_stored(at, own_form if form is None else form)
        page.append((start + n, stored, staff, *texts))
        fields = [start + n, at.isoformat(), staff or "", *texts]
        expected.append(hashlib.sha256(canonical_json(fields)).hexdigest())
    assert audit.page_hashes(page) == expected


def test_audit_verify_shows_its_bar_on_a_terminal_only(archive: Archive, app):
    for name in CLI_SETTINGS:
        os.environ[name] = str(app.config[name])
    try:
        env = {k: v for k, v in os.environ.items() if k != "CI"}
        with archive.transaction() as session:
            for n in range(3):
                audit.record(session, "consent viewed", audit.CLI, f"c{n}")
        code, shown = on_a_terminal(["audit", "verify"], env)
        assert code == 0, shown
        assert "Checking the audit trail" in shown and "3/3" in shown
        for args, where in ((["audit", "verify", "--quiet"], env), (["audit", "verify"],
                            {**env, "CI": "true"})):  # fmt: skip
            code, shown = on_a_terminal(args, where)
            assert (code, shown) == (0, "")
    finally:
        for name in CLI_SETTINGS:
            os.environ.pop(name, None)


#: What `intake audit verify` reports it imported, after its verdict.
IMPORTED = """
import sys
from intake.cli import main
try:
    main(["audit", "verify"])
except SystemExit as exit:
    heavy = ("flask", "reportlab", "pyhanko", "pypdf", "sqlalchemy", "alembic")
    print(exit.code, sorted(name for name in heavy if name in sys.modules))
"""


def test_audit_verify_reads_the_database_without_the_web_app_or_the_pdf_engine(
    archive: Archive, app
):
    """Each command imports only what it needs: the walk of the audit trail starts without
    Flask, reportlab, pyHanko or pypdf (seconds of imports on a busy machine), nor SQLAlchemy
    or Alembic (it reads a trail that holds with the driver alone), and its verdict is still
    the whole chain's."""
    with archive.transaction() as session:
        audit.record(session, "consent viewed", audit.CLI, "c1")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env.update({name: str(app.config[name]) for name in CLI_SETTINGS})
    done = subprocess.run(
        [sys.executable, "-c", IMPORTED], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.splitlines()[-2:] == ["audit trail holds: 1 rows", "0 []"], done.stderr
