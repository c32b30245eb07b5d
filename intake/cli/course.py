"""`intake course due --on DATE`: the day's list of the treatment course from a shell, the same
rows as the staff page. Patients are named by id only, unless `--names` asks for their names."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import click

from intake.archive.schedule import OVERDUE, Schedule
from intake.cli.runtime import fail, open_archive, pass_catalog, settings
from intake.definition import FormCatalog


def register(main: click.Group) -> None:
    main.add_command(course_group)


@click.group("course")
def course_group() -> None:
    """The treatment course: who is due for an injection."""


def _day(text: str | None) -> date:
    if text is None:
        zone = settings().CLINIC_TIMEZONE
        return datetime.now(ZoneInfo(zone) if zone else None).date()
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"--on: {text!r} is not a date (YYYY-MM-DD)")


@course_group.command("due")
@click.option("--on", "on", metavar="DATE", help="The day (YYYY-MM-DD; default: today).")
@click.option("--names", is_flag=True, help="Print each patient's name and date of birth too.")
@pass_catalog
def course_due(catalog: FormCatalog, on: str | None, names: bool) -> None:
    """Patients due for an injection on or before DATE, the longest overdue first: due day,
    state, patient id and doses given, one tab-separated line each."""
    day = _day(on)
    count = 0
    for row in Schedule(open_archive(catalog)).due(day):
        state = f"{OVERDUE} {row.days_overdue}d" if row.state == OVERDUE else row.state
        fields = [str(row.next_due_on), state, row.patient_id, f"doses {row.doses_given}"]
        if names:
            born = row.date_of_birth.isoformat() if row.date_of_birth else ""
            fields += [row.legal_name, born]
        click.echo("\t".join(fields))
        count += 1
    click.echo(f"{count} patient{'s' if count != 1 else ''} due on or before {day}", err=True)
