"""Two records of one person: offered to staff as a possible match, never joined by themselves.

A record looks like another when their folded names match (every word of one is a word of the
other) or their dates of birth are the same and they share a name word. Staff see the two side
by side and either confirm it (the newer record merges into the older: `confirm`) or say they
are not the same person (`keep_apart`: the pair is not offered again). An admin may merge any
two records, with a reason (`merge`). A merge keeps the merged record, pointing at the kept one
with who, when and why, and moves its consents, visits, injections, withdrawals and records to
the kept one. Every decision is audited. No Flask here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import and_, delete, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from intake.archive import audit
from intake.archive.audit import Actor
from intake.archive.course_models import (
    Injection,
    Patient,
    PatientName,
    PatientsApart,
    Record,
    Visit,
    Withdrawal,
)
from intake.archive.errors import ArchiveError
from intake.archive.models import Consent, is_id
from intake.archive.patient_search import not_merged
from intake.archive.patients import PatientMissing

if TYPE_CHECKING:
    from intake.archive.service import Archive

#: Why two records look alike (`Match.basis`), the strongest first.
NAME_AND_BIRTH, NAME, BIRTH_AND_WORD = "name-and-birth", "name", "birth-and-word"
BASES = (NAME_AND_BIRTH, NAME, BIRTH_AND_WORD)
#: The English words kept as a confirmed match's merge reason.
BASIS_WORDS = {
    NAME_AND_BIRTH: "the same name and date of birth",
    NAME: "the same name",
    BIRTH_AND_WORD: "the same date of birth and a name in common",
}
#: At most this many possible matches are shown for one record.
MATCH_LIMIT = 10
REASON_MAX = 1000

#: Why a merge is refused (`MergeRefused.code`).
SAME_RECORD, ALREADY_MERGED, NO_REASON, LONG_REASON, NOT_A_MATCH = (
    "same-record",
    "already-merged",
    "no-reason",
    "long-reason",
    "not-a-match",
)


class MergeRefused(ArchiveError):
    """A merge or match decision that cannot be made; `code` says why (for each language)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Match:
    """Another record that may be the same person, and why it looks so."""

    patient: Patient
    basis: str


def _pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a < b else (b, a)


def possible_matches(session: Session, patient: Patient, limit: int = MATCH_LIMIT) -> list[Match]:
    """Records (not merged, not kept apart from this one) that look like `patient`, the
    strongest likeness first, then the oldest record first."""
    if patient.merged_into is not None:
        return []
    words = list(
        session.scalars(select(PatientName.word).where(PatientName.patient_id == patient.id))
    )
    if not words:
        return []
    common = (
        select(PatientName.patient_id.label("patient_id"), func.count().label("n"))
        .where(PatientName.word.in_(words), PatientName.patient_id != patient.id)
        .group_by(PatientName.patient_id)
        .subquery()
    )
    theirs = aliased(PatientName)
    their_words = (
        select(func.count()).where(theirs.patient_id == Patient.id).correlate(Patient)
    ).scalar_subquery()
    same_name = or_(common.c.n >= len(words), common.c.n == their_words)
    same_birth = and_(
        Patient.date_of_birth.is_not(None), Patient.date_of_birth == patient.date_of_birth
    )
    low, high = PatientsApart.patient_id, PatientsApart.other_id
    apart = exists().where(
        or_(
            and_(low == patient.id, high == Patient.id),
            and_(low == Patient.id, high == patient.id),
        )
    )
    rows = session.execute(
        select(Patient, same_name, same_birth)
        .join(common, common.c.patient_id == Patient.id)
        .where(not_merged(), or_(same_name, same_birth), ~apart)
        .order_by(Patient.created_at, Patient.id)
        .limit(limit * 3)
    ).all()
    matches = [
        Match(other, NAME_AND_BIRTH if name and birth else NAME if name else BIRTH_AND_WORD)
        for other, name, birth in rows
    ]
    matches.sort(key=lambda m: BASES.index(m.basis))
    return matches[:limit]


def matches_of(archive: Archive, patient_id: str | None) -> list[Match]:
    if patient_id is None or not is_id(patient_id):
        return []
    with archive.sessions() as session:
        patient = session.get(Patient, patient_id)
        return possible_matches(session, patient) if patient is not None else []


def keep_apart(archive: Archive, patient_id: str, other_id: str, actor: Actor) -> None:
    """Staff say the two records are different people: the pair is not offered again."""
    with archive.transaction() as session:
        for pid in (patient_id, other_id):
            if not is_id(pid) or session.get(Patient, pid) is None:
                raise PatientMissing(pid)
        if patient_id == other_id:
            raise MergeRefused(SAME_RECORD)
        low, high = _pair(patient_id, other_id)
        if session.get(PatientsApart, (low, high)) is None:
            session.add(
                PatientsApart(
                    patient_id=low,
                    other_id=high,
                    decided_by=actor.staff_id,
                    decided_at=archive.clock(),
                )
            )
            audit.record(session, "patients kept apart", actor, patient_id)


def confirm(archive: Archive, patient_id: str, other_id: str, actor: Actor) -> str:
    """Staff confirm a possible match: the newer record merges into the older. Refused
    (`NOT_A_MATCH`) unless the two are offered as a match. The kept record's id."""
    with archive.sessions() as session:
        patient = session.get(Patient, patient_id) if is_id(patient_id) else None
        if patient is None:
            raise PatientMissing(patient_id)
        match = next(
            (m for m in possible_matches(session, patient) if m.patient.id == other_id), None
        )
    if match is None:
        raise MergeRefused(NOT_A_MATCH)
    older, newer = sorted((patient, match.patient), key=lambda p: (p.created_at, p.id))
    reason = f"Staff confirmed a possible match: {BASIS_WORDS[match.basis]}."
    merge(archive, newer.id, older.id, reason, actor)
    return older.id


def merge(archive: Archive, merged_id: str, kept_id: str, reason: str, actor: Actor) -> None:
    """Merge record `merged_id` into `kept_id`: everything filed under it moves to the kept
    record; it stays, pointing there with who, when and why. Audited."""
    reason = reason.strip()
    if not reason:
        raise MergeRefused(NO_REASON)
    if len(reason) > REASON_MAX:
        raise MergeRefused(LONG_REASON)
    if merged_id == kept_id:
        raise MergeRefused(SAME_RECORD)
    with archive.transaction() as session:
        found = {}
        for pid in (merged_id, kept_id):
            row = (
                session.execute(select(Patient).where(Patient.id == pid).with_for_update())
                .scalars()
                .first()
                if is_id(pid)
                else None
            )
            if row is None:
                raise PatientMissing(pid)
            if row.merged_into is not None:
                raise MergeRefused(ALREADY_MERGED)
            found[pid] = row
        merged, kept = found[merged_id], found[kept_id]
        for table in (Consent, Visit, Injection, Withdrawal, Record):
            session.execute(
                update(table).where(table.patient_id == merged_id).values(patient_id=kept_id)
            )
        _move_words(session, merged_id, kept_id)
        _place_in_course(session, kept, merged)
        kept.last_entry_on = max(kept.last_entry_on, merged.last_entry_on)
        kept.phone = kept.phone or merged.phone
        kept.email = kept.email or merged.email
        kept.address = kept.address or merged.address
        merged.merged_into = kept_id
        merged.merged_at = archive.clock()
        merged.merged_by = actor.staff_id
        merged.merge_reason = reason
        merged.next_due_on = None
        audit.record(session, "patients merged", actor, merged_id)


def _place_in_course(session: Session, kept: Patient, merged: Patient) -> None:
    """The kept record's place in the course, from the injections both now hold: the doses
    given (current records only) and the next due day of the newest one. When neither record
    had a day due (say, both withdrew), none is due now either."""
    session.flush()
    current = and_(Injection.patient_id == kept.id, Injection.superseded_by.is_(None))
    newest = session.scalars(
        select(Injection).where(current).order_by(Injection.given_at.desc()).limit(1)
    ).first()
    if newest is None:
        kept.next_due_on = kept.next_due_on or merged.next_due_on
        return
    was_due = kept.next_due_on is not None or merged.next_due_on is not None
    kept.doses_given = session.scalar(select(func.count()).where(current)) or 0
    kept.next_due_on = newest.next_due_on if was_due else None


def _move_words(session: Session, merged_id: str, kept_id: str) -> None:
    """The merged record's name words now find the kept one (a former name, say)."""
    have = set(session.scalars(select(PatientName.word).where(PatientName.patient_id == kept_id)))
    words = session.scalars(select(PatientName.word).where(PatientName.patient_id == merged_id))
    session.add_all(
        PatientName(word=word, patient_id=kept_id) for word in list(words) if word not in have
    )
    session.execute(delete(PatientName).where(PatientName.patient_id == merged_id))


def merged_into_this(archive: Archive, patient_id: str) -> list[Patient]:
    """The records merged into `patient_id`, oldest merge first."""
    with archive.sessions() as session:
        return list(
            session.scalars(
                select(Patient).where(Patient.merged_into == patient_id).order_by(Patient.merged_at)
            )
        )
