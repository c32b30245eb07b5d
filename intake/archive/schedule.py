"""The schedule: when each patient's next injection is due, and the day's list the front desk
and the clinicians work from. No Flask here: the staff page and `intake course due` both call
`Schedule`.

The next due day is kept on the patient (`Patient.next_due_on`, with `doses_given`) when an
injection is recorded, so the day's list is one range scan on `ix_patients_next_due`, however
many patients and injections the archive holds. The list pages by keyset (the last row's due
day and id), never by offset.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from intake.archive.accounts import Database
from intake.archive.course_models import VISIT_CHECKED_IN, VISIT_OPEN, Patient, Visit
from intake.definition import Course

#: Where a patient on the day's list is.
OVERDUE, DUE, ON_TABLET, CHECKED_IN, WAITING_FOR_REVIEW = (
    "overdue",
    "due",
    "on-tablet",
    "checked-in",
    "waiting-for-review",
)
#: How many rows a page of the day's list holds.
PAGE = 50


def next_due(course: Course, dose_number: int, given_on: date) -> date:
    """The day the dose after dose `dose_number` (1 = the first) is due, given on `given_on`."""
    return given_on + timedelta(days=course.interval_after(dose_number))


def place(session: Session, patient_id: str, dose_number: int, due: date | None) -> None:
    """Keep the patient's place in the course after an injection (or a correction of one)."""
    patient = session.get(Patient, patient_id)
    assert patient is not None
    patient.doses_given = dose_number
    patient.next_due_on = due


@dataclass(frozen=True)
class DueRow:
    """One patient on the day's list."""

    patient_id: str
    legal_name: str
    first_name: str
    date_of_birth: date | None
    next_due_on: date | None
    doses_given: int
    #: `OVERDUE`, `DUE`, or where today's visit is (`ON_TABLET`, `CHECKED_IN`,
    #: `WAITING_FOR_REVIEW`).
    state: str
    #: Days past the due day (0: due on the day, or not due yet).
    days_overdue: int = 0
    #: Today's visit not given yet, if any.
    visit_id: str | None = None


@dataclass(frozen=True)
class DayList:
    """A page of the day's list: the patients at the clinic now (a visit started and not given
    yet), then those due on or before the day, the longest overdue first."""

    day: date
    at_clinic: list[DueRow]
    due: list[DueRow]
    #: The keyset of the next page (the last row's due day and id), or None: this is the last.
    next_page: tuple[date, str] | None


def _visit_state(visit: Visit) -> str:
    if visit.status == VISIT_OPEN:
        return ON_TABLET
    return WAITING_FOR_REVIEW if visit.needs_review else CHECKED_IN


def _row(patient: Patient, day: date, visit: Visit | None) -> DueRow:
    if visit is not None:
        state = _visit_state(visit)
    else:
        due = patient.next_due_on
        state = OVERDUE if due is not None and due < day else DUE
    return DueRow(
        patient_id=patient.id,
        legal_name=patient.legal_name,
        first_name=patient.first_name,
        date_of_birth=patient.date_of_birth,
        next_due_on=patient.next_due_on,
        doses_given=patient.doses_given,
        state=state,
        days_overdue=max(0, (day - patient.next_due_on).days) if patient.next_due_on else 0,
        visit_id=visit.id if visit is not None else None,
    )


def _due_query(day: date, after: tuple[date, str] | None, limit: int):
    # The due-day index gives the rows in the list's order; SQLite would otherwise read every
    # unmerged patient from the `merged_into` index and sort them.
    query = (
        select(Patient)
        .with_hint(Patient, "INDEXED BY ix_patients_next_due", "sqlite")
        .where(Patient.next_due_on <= day, Patient.merged_into.is_(None))
        .order_by(Patient.next_due_on, Patient.id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(tuple_(Patient.next_due_on, Patient.id) > tuple_(*after))
    return query


def _open_visits(session: Session, patient_ids: list[str]) -> dict[str, Visit]:
    """Each patient's newest visit not given nor cancelled yet."""
    if not patient_ids:
        return {}
    rows = session.scalars(
        select(Visit)
        .where(
            Visit.patient_id.in_(patient_ids),
            Visit.status.in_((VISIT_OPEN, VISIT_CHECKED_IN)),
        )
        .order_by(Visit.started_at)
    )
    return {visit.patient_id: visit for visit in rows}


class Schedule:
    """The day's list, over the archive's database."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def day_list(
        self, day: date, *, after: tuple[date, str] | None = None, limit: int = PAGE
    ) -> DayList:
        """A page of the list for `day`. The patients at the clinic are on the first page only
        (a handful at a time: the visits not given yet, on the visits' status index)."""
        with self.database.sessions() as session:
            at_clinic: list[DueRow] = []
            if after is None:
                # SQLite's planner, once ANALYZE has seen a table of given visits, would scan
                # it rather than read the few open ones from the status index.
                visits = session.scalars(
                    select(Visit)
                    .with_hint(Visit, "INDEXED BY ix_visits_status", "sqlite")
                    .where(Visit.status.in_((VISIT_OPEN, VISIT_CHECKED_IN)))
                    .order_by(Visit.started_at, Visit.id)
                    .limit(limit)
                ).all()
                patients = {
                    patient.id: patient
                    for patient in session.scalars(
                        select(Patient).where(Patient.id.in_({v.patient_id for v in visits}))
                    )
                }
                at_clinic = [_row(patients[v.patient_id], day, v) for v in visits]
            page = session.scalars(_due_query(day, after, limit + 1)).all()
            here = {row.patient_id for row in at_clinic}
            shown = [patient for patient in page[:limit] if patient.id not in here]
            visits_by_patient = _open_visits(session, [p.id for p in shown])
            due = [_row(p, day, visits_by_patient.get(p.id)) for p in shown]
            more = len(page) > limit
            last = page[limit - 1] if more else None
            next_page = (last.next_due_on, last.id) if last is not None else None
            return DayList(day, at_clinic, due, next_page)  # type: ignore[arg-type]

    def due(self, day: date, *, batch: int = 1000) -> Iterator[DueRow]:
        """Every patient due on or before `day`, the longest overdue first, streamed in
        batches (flat memory for the command line)."""
        after: tuple[date, str] | None = None
        while True:
            with self.database.sessions() as session:
                page = session.scalars(_due_query(day, after, batch)).all()
                visits = _open_visits(session, [p.id for p in page])
                rows = [_row(p, day, visits.get(p.id)) for p in page]
            yield from rows
            if len(page) < batch:
                return
            after = (page[-1].next_due_on, page[-1].id)  # type: ignore[assignment]
