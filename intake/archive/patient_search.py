"""Finding patients: by name words (`patient_names`, prefix, every word matching, as the consent
search does) and date of birth; records merged into another are left out. Results come a page
at a time, by the patient's last entry, newest first, each page ending with a cursor the next
page starts after. The search in progress is kept on the staff login's row
(`StaffSession.patient_search`), so no name or birth date goes into a URL.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from intake.archive.course_models import Patient, PatientName
from intake.archive.models import StaffSession
from intake.archive.search import PAGE_SIZE, _found_first, _prefix_upper, name_words
from intake.archive.staff import token_sha256


@dataclass(frozen=True)
class PatientCriteria:
    """What staff search patients by; both parts optional."""

    name: str = ""
    date_of_birth: date | None = None

    def to_json(self) -> str:
        born = self.date_of_birth.isoformat() if self.date_of_birth else None
        return json.dumps({"name": self.name, "date_of_birth": born})

    @classmethod
    def from_json(cls, text: str | None) -> PatientCriteria:
        """The kept search; an unreadable one is no search at all."""
        if not text:
            return cls()
        try:
            data = json.loads(text)
            born = data.get("date_of_birth")
            return cls(str(data.get("name") or ""), date.fromisoformat(born) if born else None)
        except (ValueError, TypeError, AttributeError):
            return cls()

    @property
    def empty(self) -> bool:
        return self == PatientCriteria()


@dataclass(frozen=True)
class PatientPage:
    patients: list[Patient]
    #: Where the next page starts, or None on the last page.
    next_cursor: str | None

    @classmethod
    def of(cls, rows: list[Patient], limit: int) -> PatientPage:
        more = len(rows) > limit
        rows = rows[:limit]
        return cls(rows, encode_cursor(rows[-1]) if more and rows else None)


def encode_cursor(patient: Patient) -> str:
    return f"{patient.last_entry_on.strftime('%Y%m%d')}.{patient.id}"


def decode_cursor(cursor: str | None) -> tuple[date, str] | None:
    match = re.fullmatch(r"(\d{8})\.([0-9a-f]{32})", cursor or "")
    if not match:
        return None
    text = match.group(1)
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:])), match.group(2)
    except ValueError:  # digits in the right places, but no such date: the first page
        return None


def not_merged() -> Any:
    """A record not merged into another, written so that no database answers it from
    `ix_patients_merged_into`: nearly every record is unmerged, and walking that index first
    reads them all before the name words narrow anything down."""
    return func.coalesce(Patient.merged_into, "") == ""


def patient_query(
    criteria: PatientCriteria, *, cursor: str | None, limit: int, postgresql: bool
) -> Select[tuple[Patient]]:
    """Patients matching `criteria` after `cursor`, `limit + 1` of them (the one more tells
    whether a next page exists). Name words are intersected longest first, as in
    `intake.archive.search.search_query`."""
    query = select(Patient).where(not_merged())
    matching = None
    words = sorted(name_words(criteria.name), key=len, reverse=True)
    for word in words:
        names = aliased(PatientName)
        step = select(names.patient_id).where(names.word >= word, names.word < _prefix_upper(word))
        if matching is not None:
            step = step.where(names.patient_id.in_(matching))
        matching = step
    if matching is not None:
        if postgresql and len(words) >= 2 and len(words[0]) >= 2:
            matching = _found_first(matching, "patient_matches")
        query = query.where(Patient.id.in_(matching))
    if criteria.date_of_birth:
        query = query.where(Patient.date_of_birth == criteria.date_of_birth)
    after = decode_cursor(cursor)
    if after:
        day, last_id = after
        query = query.where(
            Patient.last_entry_on <= day,
            or_(
                Patient.last_entry_on < day,
                and_(Patient.last_entry_on == day, Patient.id < last_id),
            ),
        )
    return query.order_by(Patient.last_entry_on.desc(), Patient.id.desc()).limit(limit + 1)


def search(
    session: Session,
    criteria: PatientCriteria,
    *,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
    postgresql: bool = False,
) -> PatientPage:
    query = patient_query(criteria, cursor=cursor, limit=limit, postgresql=postgresql)
    return PatientPage.of(list(session.scalars(query)), limit)


def remembered(session: Session, token: str | None) -> PatientCriteria:
    """The patient search the login behind `token` keeps."""
    row = session.get(StaffSession, token_sha256(token)) if token else None
    return PatientCriteria.from_json(row.patient_search if row is not None else None)


def remember(session: Session, token: str, criteria: PatientCriteria | None) -> None:
    """Keep the patient search on the login's own row (None or an empty one: forget it)."""
    row = session.get(StaffSession, token_sha256(token))
    if row is not None:
        empty = criteria is None or criteria.empty
        row.patient_search = None if empty else criteria.to_json()
