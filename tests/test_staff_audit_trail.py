"""The audit trail page's verdict: a kept checkpoint extended by a bounded number of rows a view,
on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import event

from intake.archive import audit
from intake.archive.models import AuditEvent
from intake.staff import service
from tests.support.app import on_both_databases
from tests.support.audit_rows import change_audit_row, seed_audit_rows
from tests.support.staff import StaffActions

pytestmark = pytest.mark.usefixtures("fast_passwords")
app_config = pytest.fixture(on_both_databases, name="app_config")


def verdict(admin: StaffActions) -> str:
    page = admin.client.get("/staff/audit")
    assert page.status_code == 200
    found = re.search(r'<p class="verdict-title">(.*?)</p>', page.text)
    assert found
    return found.group(1)


def test_the_page_checks_new_rows_a_bounded_number_at_a_time(archive, admin, monkeypatch):
    assert verdict(admin).startswith("✓ The trail holds: ")
    newest = seed_audit_rows(archive, 25)
    monkeypatch.setattr(service, "AUDIT_CHECK_PER_VIEW", 10)
    first = verdict(admin)
    checked = int(re.search(r"holds up to row (\d+) of (\d+)", first).group(1))
    assert f"of {newest}" in first and checked < newest
    second = verdict(admin)
    assert f"holds up to row {checked + 10} of {newest}" in second
    while "up to row" in (last := verdict(admin)):
        pass
    assert last.startswith(f"✓ The trail holds: {newest} rows")


def test_a_row_changed_beyond_the_checkpoint_is_caught_on_the_page(archive, admin):
    assert verdict(admin).startswith("✓ The trail holds")
    newest = seed_audit_rows(archive, 30)
    change_audit_row(archive, newest - 5)
    assert verdict(admin) == f"✗ The trail is BROKEN at row {newest - 5}"


def test_a_row_changed_before_the_checkpoint_is_caught_by_audit_verify_then_shown(
    archive, admin, intake
):
    seed_audit_rows(archive, 30)
    assert verdict(admin).startswith("✓ The trail holds")
    change_audit_row(archive, 3)
    result = intake("audit", "verify")
    assert result.exit_code == 1 and "audit trail BROKEN at row 3" in result.stdout
    # The full walk moved the checkpoint back: the page now shows the break too.
    assert verdict(admin) == "✗ The trail is BROKEN at row 3"


def test_audit_verify_moves_the_checkpoint_to_the_newest_row(archive, admin, intake, monkeypatch):
    newest = seed_audit_rows(archive, 40)
    monkeypatch.setattr(service, "AUDIT_CHECK_PER_VIEW", 5)
    result = intake("audit", "verify")
    assert result.exit_code == 0 and result.stdout == f"audit trail holds: {newest} rows\n"
    # Every row was checked: the first view after it says so, whatever its own bound.
    assert verdict(admin).startswith(f"✓ The trail holds: {newest} rows")


class RowsWalked:
    """Progress that counts the rows a walk reports."""

    rows = 0

    def start(self, total: int) -> None:
        self.total = total

    def advance(self, n: int = 1) -> None:
        self.rows += n


def test_a_view_reads_a_bounded_number_of_audit_rows(archive, admin):
    newest = seed_audit_rows(archive, 5_000)
    loaded: list[int] = []

    def count(target: AuditEvent, context: object) -> None:
        loaded.append(target.seq)

    event.listen(AuditEvent, "load", count)
    try:
        for _ in range(3):
            loaded.clear()
            admin.client.get("/staff/audit")
            # The rows checked, the checkpoint's own row, and one page (plus the next's first).
            bound = service.AUDIT_CHECK_PER_VIEW + 1 + service.AUDIT_PAGE_SIZE + 1
            assert 0 < len(loaded) <= bound
        # The full walk, by contrast, reads every row (as plain rows, which its progress counts).
        walked = RowsWalked()
        assert archive.verify_audit(walked).holds
        assert walked.rows >= newest
    finally:
        event.remove(AuditEvent, "load", count)


def test_a_change_to_the_checkpoints_own_row_is_caught_on_the_page(archive, admin):
    newest = seed_audit_rows(archive, 10)
    assert verdict(admin).startswith(f"✓ The trail holds: {newest} rows")
    change_audit_row(archive, newest)
    assert verdict(admin) == f"✗ The trail is BROKEN at row {newest}"


def test_the_full_walk_reads_the_trail_a_page_at_a_time(archive, monkeypatch):
    """psycopg's ordinary cursor receives a query's whole result when it runs (450,000 audit
    rows held to the end of the walk); on PostgreSQL the walk reads from a server-side cursor,
    which is open while each page is checked."""
    newest = seed_audit_rows(archive, 35)
    monkeypatch.setattr(audit, "WALK_PAGE", 10)
    postgresql = archive.engine.dialect.name == "postgresql"
    pages: list[int] = []
    cursors: list[list[str]] = []

    class Looking:
        def start(self, total: int) -> None:
            assert total == newest

        def advance(self, n: int = 1) -> None:
            pages.append(n)
            if postgresql:
                query = "SELECT statement FROM pg_cursors"
                cursors.append(session.connection().exec_driver_sql(query).scalars().all())

    with archive.transaction() as session:
        assert audit.verify_and_keep(session, Looking()).holds
    assert sum(pages) == newest and max(pages) == 10 and len(pages) == -(-newest // 10)
    if postgresql:
        assert len(cursors) == len(pages)
        assert all(len(c) == 1 and "FROM audit_events ORDER BY seq" in c[0] for c in cursors)
