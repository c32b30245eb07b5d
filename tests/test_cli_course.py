"""`intake course due`, on SQLite and PostgreSQL: the day's list from a shell, by patient id,
with names only when `--names` asks; a bad date is one `error:` line."""

from __future__ import annotations

from datetime import date

import pytest

from tests.support.app import on_both_databases
from tests.support.course_rows import add_patient

app_config = pytest.fixture(on_both_databases, name="app_config")


def test_course_due_lists_patients_by_id(archive, intake):
    late = add_patient(archive, "Olga Overdue", next_due_on=date(2026, 11, 28), doses_given=5)
    due = add_patient(archive, "Dana Due", next_due_on=date(2026, 12, 1), doses_given=2)
    add_patient(archive, "Lena Later", next_due_on=date(2026, 12, 2))

    result = intake("course", "due", "--on", "2026-12-01")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"2026-11-28\toverdue 3d\t{late}\tdoses 5",
        f"2026-12-01\tdue\t{due}\tdoses 2",
    ]
    assert "Olga" not in result.output and "Dana" not in result.output
    assert "2 patients due on or before 2026-12-01" in result.stderr

    named = intake("course", "due", "--on", "2026-12-01", "--names")
    assert named.exit_code == 0, named.output
    assert named.stdout.splitlines()[0] == (
        f"2026-11-28\toverdue 3d\t{late}\tdoses 5\tOlga Overdue\t1980-05-17"
    )


def test_a_bad_date_is_one_error_line(archive, intake):
    result = intake("course", "due", "--on", "2026-02-30")
    assert result.exit_code == 2
    assert result.stderr == "error: --on: '2026-02-30' is not a date (YYYY-MM-DD)\n"
