"""The accounts service: each call one transaction with its audit rows, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from intake.archive import staff as staff_accounts
from intake.archive.accounts import OWN_ACCOUNT, Accounts, StaffMissing
from intake.archive.audit import Actor
from intake.archive.search import SearchCriteria
from intake.archive.service import Archive
from intake.archive.staff import LoginRefused, StaffError
from intake.archive.throttle import ACCOUNT
from intake.email_address import is_email_address, normal_email
from tests.support.staff import FAST_HASHER, events

DESK = Actor(ip="198.51.100.4", user_agent="Front desk")
PASSWORD = "correct horse battery"
T0 = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


@pytest.fixture
def app_config(app_config: dict[str, Any], database_url: str) -> dict[str, Any]:
    return {**app_config, "DATABASE_URL": database_url}


@pytest.fixture(autouse=True)
def fast_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(staff_accounts, "hasher", FAST_HASHER)


@pytest.fixture
def accounts(archive: Archive, monkeypatch: pytest.MonkeyPatch) -> Accounts:
    monkeypatch.setattr(archive, "clock", lambda: T0)
    return Accounts(archive)


def add(accounts: Accounts, email: str, name: str = "Dana Desk", role: str = "front-desk"):
    return accounts.create(email=email, name=name, role=role, password=PASSWORD, actor=DESK)


def test_create_keeps_the_account_and_its_audit_row(archive: Archive, accounts: Accounts):
    staff = add(accounts, "  Dana@Clinic.TEST ")
    assert staff.email == "dana@clinic.test"
    assert accounts.get(staff.id).email == "dana@clinic.test"
    assert accounts.by_email("DANA@clinic.test").id == staff.id
    assert [e.target for e in events(archive, "staff created")] == [staff.id]


def test_a_refused_account_writes_nothing(archive: Archive, accounts: Accounts):
    with pytest.raises(StaffError) as raised:
        add(accounts, "not-an-email")
    assert raised.value.field == "email"
    assert accounts.all() == [] and events(archive, "staff created") == []


def test_all_by_email_or_by_name(accounts: Accounts):
    add(accounts, "b@clinic.test", "Ann Zed")
    add(accounts, "a@clinic.test", "Zoe Ash")
    assert [s.email for s in accounts.all()] == ["a@clinic.test", "b@clinic.test"]
    assert [s.name for s in accounts.all(by_name=True)] == ["Ann Zed", "Zoe Ash"]


def test_get_and_by_email_find_nothing_for_unknown_keys(accounts: Accounts):
    assert accounts.get("not an id") is None
    assert accounts.get("0" * 32) is None
    assert accounts.by_email("nobody@clinic.test") is None


def test_change_is_audited_and_ends_the_accounts_logins(archive: Archive, accounts: Accounts):
    staff = add(accounts, "dana@clinic.test")
    token = accounts.login("dana@clinic.test", PASSWORD, DESK)
    changed = accounts.change(staff.id, Actor(), role="clinician")
    assert changed.role == "clinician" and accounts.get(staff.id).role == "clinician"
    assert accounts.check_session(token, DESK).staff is None
    assert [e.target for e in events(archive, "staff changed")] == [staff.id]


def test_change_by_email_names_a_missing_account(accounts: Accounts):
    staff = add(accounts, "dana@clinic.test")
    assert accounts.change_by_email("Dana@clinic.test", Actor(), active=False).id == staff.id
    assert accounts.get(staff.id).active is False
    with pytest.raises(StaffError) as raised:
        accounts.change_by_email("x@clinic.test", Actor(), active=True)
    assert str(raised.value) == "email: no staff account has the email x@clinic.test"


def test_change_of_an_unknown_id_is_missing(accounts: Accounts):
    with pytest.raises(StaffMissing):
        accounts.change("0" * 32, Actor(), active=False)


@pytest.mark.parametrize("change", [{"role": "front-desk"}, {"active": False}])
def test_nobody_changes_their_own_role_or_switches_themselves_off(
    archive: Archive, accounts: Accounts, change: dict[str, Any]
):
    admin = add(accounts, "ada@clinic.test", role="admin")
    with pytest.raises(StaffError) as raised:
        accounts.change(admin.id, Actor(staff_id=admin.id), **change)
    assert raised.value.message == OWN_ACCOUNT
    assert accounts.get(admin.id).role == "admin" and accounts.get(admin.id).active
    assert events(archive, "staff changed") == []


def test_a_refused_login_is_kept_in_the_trail(
    archive: Archive, accounts: Accounts, monkeypatch: pytest.MonkeyPatch
):
    add(accounts, "dana@clinic.test")
    for _ in range(ACCOUNT.free):
        with pytest.raises(LoginRefused):
            accounts.login("dana@clinic.test", "wrong password!", DESK)
    assert len(events(archive, "login failed")) == ACCOUNT.free
    with pytest.raises(LoginRefused) as raised:
        accounts.login("dana@clinic.test", PASSWORD, DESK)
    assert raised.value.wait_seconds == 15
    assert raised.value.message == "Too many failed attempts. Wait 15 seconds, then try again."
    assert len(events(archive, "login delayed")) == 1
    # The wait is a delay, not a lock: once it has passed the right password opens.
    monkeypatch.setattr(archive, "clock", lambda: T0 + timedelta(seconds=15))
    assert accounts.check_session(accounts.login("dana@clinic.test", PASSWORD, DESK), DESK).staff


def test_login_check_and_logout(archive: Archive, accounts: Accounts):
    staff = add(accounts, "dana@clinic.test")
    token = accounts.login("dana@clinic.test", PASSWORD, DESK)
    assert accounts.check_session(token, DESK).staff.id == staff.id
    accounts.logout(token, DESK)
    assert accounts.check_session(token, DESK).staff is None
    assert [e.event for e in events(archive, "login") + events(archive, "logout")] == [
        "login",
        "logout",
    ]


def test_an_idle_login_is_ended(archive: Archive, accounts: Accounts, monkeypatch):
    add(accounts, "dana@clinic.test")
    token = accounts.login("dana@clinic.test", PASSWORD, DESK)
    monkeypatch.setattr(archive, "clock", lambda: T0 + timedelta(minutes=16))
    assert accounts.check_session(token, DESK).idled_out
    assert len(events(archive, "logoff idle")) == 1


def test_handing_to_a_patient_records_it_and_logs_out_together(
    archive: Archive, accounts: Accounts
):
    staff = add(accounts, "dana@clinic.test")
    token = accounts.login("dana@clinic.test", PASSWORD, DESK)
    accounts.hand_to_patient(token, Actor(staff_id=staff.id), "b12-injection")
    started, ended = events(archive, "patient session started"), events(archive, "logout")
    assert [e.target for e in started] == ["b12-injection"]
    assert [e.seq for e in ended] == [started[0].seq + 1]
    assert accounts.check_session(token, DESK).staff is None


def test_the_search_is_kept_with_the_login(accounts: Accounts):
    add(accounts, "dana@clinic.test")
    token = accounts.login("dana@clinic.test", PASSWORD, DESK)
    accounts.remember_search(token, SearchCriteria(name="Zoë"))
    kept = accounts.check_session(token, DESK).session.search
    assert SearchCriteria.from_json(kept).name == "Zoë"
    accounts.remember_search(token, SearchCriteria())
    assert accounts.check_session(token, DESK).session.search is None


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("zoe@example.org", True),
        ("zoe@example", False),
        ("zoe example.org", False),
        ("zoe@@example.org", False),
        ("zoe@example.org.", False),
        ("z" * 243 + "@example.org", False),
    ],
)
def test_one_email_rule(text: str, ok: bool):
    assert is_email_address(text) is ok
    assert normal_email("  Zoe@Example.ORG ") == "zoe@example.org"
