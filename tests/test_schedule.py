"""The schedule, on SQLite and PostgreSQL: the next due day follows the course (weekly for the
loading doses, then monthly), and the day's list holds the patients at the clinic, then those
due or overdue, paged by keyset."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from intake.archive.course_models import VISIT_OPEN
from intake.archive.schedule import (
    CHECKED_IN,
    DUE,
    ON_TABLET,
    OVERDUE,
    WAITING_FOR_REVIEW,
    Schedule,
    next_due,
)
from tests.support.app import on_both_databases
from tests.support.course_rows import add_patient, add_visit
from tests.support.staff import add_consent

app_config = pytest.fixture(on_both_databases, name="app_config")

DAY = date(2026, 12, 1)
MINUTE = timedelta(minutes=1)


def test_the_next_due_day_follows_the_course(definition):
    course = definition.course
    given = date(2026, 1, 5)
    assert [next_due(course, dose, given) for dose in (1, 2, 3)] == [date(2026, 1, 12)] * 3
    assert next_due(course, 4, given) == date(2026, 2, 4)
    assert next_due(course, 11, given) == given + timedelta(days=30)


def test_the_day_list(archive, demo_data):
    consent_id = add_consent(archive, demo_data, seal=False)
    overdue = add_patient(archive, "Olga Overdue", next_due_on=DAY - timedelta(days=3))
    due = add_patient(archive, "Dana Due", next_due_on=DAY)
    add_patient(archive, "Lena Later", next_due_on=DAY + timedelta(days=1))
    add_patient(archive, "Wanda Withdrawn", next_due_on=None)
    checked_in = add_patient(archive, "Cara Checked", next_due_on=DAY)
    flagged = add_patient(archive, "Flora Flagged", next_due_on=DAY + timedelta(days=2))
    tablet = add_patient(archive, "Tina Tablet", next_due_on=DAY - timedelta(days=1))
    start = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
    add_visit(archive, checked_in, consent_id, started_at=start)
    add_visit(archive, flagged, consent_id, needs_review=True, started_at=start + MINUTE)
    add_visit(archive, tablet, consent_id, status=VISIT_OPEN, started_at=start + 2 * MINUTE)

    page = Schedule(archive).day_list(DAY)
    assert [(row.patient_id, row.state) for row in page.at_clinic] == [
        (checked_in, CHECKED_IN),
        (flagged, WAITING_FOR_REVIEW),
        (tablet, ON_TABLET),
    ]
    # The patients at the clinic are not listed twice; the longest overdue come first.
    assert [(row.patient_id, row.state) for row in page.due] == [(overdue, OVERDUE), (due, DUE)]
    assert page.due[0].days_overdue == 3 and page.due[0].legal_name == "Olga Overdue"
    assert page.next_page is None

    streamed = list(Schedule(archive).due(DAY, batch=2))
    assert [row.patient_id for row in streamed][:2] == [overdue, tablet]
    assert {row.patient_id for row in streamed[2:]} == {due, checked_in}
    assert {row.patient_id: row.state for row in streamed}[tablet] == ON_TABLET


def test_the_day_list_pages_by_keyset(archive):
    ids = [
        add_patient(archive, f"Pat {n}", next_due_on=DAY - timedelta(days=n % 4)) for n in range(7)
    ]
    schedule = Schedule(archive)
    seen, after = [], None
    while True:
        page = schedule.day_list(DAY, after=after, limit=3)
        assert len(page.due) <= 3
        seen.extend(row.patient_id for row in page.due)
        if page.next_page is None:
            break
        after = page.next_page
    assert sorted(seen) == sorted(ids) and len(seen) == len(set(seen)) == 7
    dues = [row.next_due_on for row in schedule.due(DAY)]
    assert dues == sorted(dues)
