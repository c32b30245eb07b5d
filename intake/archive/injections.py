"""Recording an injection (clinicians): the checks that refuse one, the clinician's electronic
signature (their password, and second factor where set, checked like a login's with its
throttle), and the sealed `injection` record made through the course's record store. No Flask.

An injection is refused, with the reason, when the patient has no current consent; when a STOP
screening answer on the consent, or a flagged check-in answer, waits for a clinician's review;
when the lot is expired or recalled; and when it comes fewer than `min_interval_days` after the
last one (unless the clinician gives a reason, which is audited). Two clinicians recording the
same visit at once make one record: the injection's `visit_key` and the record's `submit_key`
are unique, and the visit's row is locked while the injection is written; the second is shown
the first one's record. A correction is a new record that supersedes the old, never an edit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from intake.archive import audit, second_factor
from intake.archive.accounts import Accounts
from intake.archive.audit import Actor
from intake.archive.blobs import sha256_of
from intake.archive.course_models import (
    INJECTION,
    REACTIONS,
    SIDES,
    SITES,
    VISIT_CANCELLED,
    VISIT_CHECKED_IN,
    VISIT_GIVEN,
    VISIT_OPEN,
    Injection,
    Lot,
    Patient,
    Visit,
)
from intake.archive.injection_record import injection_body
from intake.archive.lots import EXPIRED, RECALLED, unusable
from intake.archive.models import Consent, Staff, is_id, new_id
from intake.archive.patients import Currentness, current_consent, touch
from intake.archive.records import Records
from intake.archive.schedule import next_due, place
from intake.archive.service import submission_of
from intake.archive.staff import role_allows
from intake.canonical import canonical_json
from intake.definition import Course

if TYPE_CHECKING:
    from intake.archive.service import Archive

ROUTE = "IM"
#: The most one injection may hold; more is a typing slip.
DOSE_MAX_MG, VOLUME_MAX_ML = 10.0, 5.0
#: The longest note, action or reason: the record stays one page with every one at its longest.
TEXT_MAX = 250

#: Why an injection is refused (`Refusal.code`).
NO_CONSENT = "no-consent"
STOP_NOT_REVIEWED = "stop-not-reviewed"
VISIT_NOT_REVIEWED = "visit-not-reviewed"
NOT_CHECKED_IN = "not-checked-in"
VISIT_CLOSED = "visit-closed"
LOT_EXPIRED = "lot-expired"
LOT_RECALLED = "lot-recalled"
TOO_SOON = "too-soon"


@dataclass(frozen=True)
class Refusal:
    """One reason an injection cannot be recorded: `code`, and the detail it names (a date, a
    day count, the consent's validity); `field` is where the form shows it ("" at the top)."""

    code: str
    detail: str = ""
    field: str = ""


class InjectionRefused(Exception):
    def __init__(self, refusals: list[Refusal]) -> None:
        super().__init__(", ".join(r.code for r in refusals))
        self.refusals = refusals


class InjectionError(ValueError):
    """Bad input, naming the field and the rule (`code`)."""

    def __init__(self, field: str, code: str) -> None:
        super().__init__(f"{field}: {code}")
        self.field = field
        self.code = code


class InjectionMissing(LookupError):
    pass


class _AlreadyGiven(Exception):
    def __init__(self, injection_id: str) -> None:
        self.injection_id = injection_id


@dataclass(frozen=True)
class InjectionEntry:
    """An injection as the clinician enters it."""

    lot_id: str
    dose_mg: float | None
    volume_ml: float | None
    site: str
    side: str
    #: When it was given, in the clinic's time zone.
    given_at: datetime | None
    notes: str = ""
    reaction: str = "none"
    reaction_action: str = ""
    #: Why it is given sooner than the course allows (only then).
    override_reason: str = ""


@dataclass(frozen=True)
class Outcome:
    injection_id: str
    record_id: str
    #: False: another clinician recorded this visit first; this is their record.
    made: bool


@dataclass
class Situation:
    """Where a visit stands for an injection: what the page shows before the form."""

    visit: Visit
    patient: Patient
    current: Currentness
    refusals: list[Refusal] = field(default_factory=list)
    last: Injection | None = None
    #: The visit's injection, once recorded.
    given: Injection | None = None
    #: The form of the consent the visit was started under.
    visit_form_id: str = ""


def check_entry(entry: InjectionEntry, now: datetime) -> None:
    """Bad input as `InjectionError` at its field."""
    if not is_id(entry.lot_id):
        raise InjectionError("lot_id", "required")
    for name, limit in (("dose_mg", DOSE_MAX_MG), ("volume_ml", VOLUME_MAX_ML)):
        value = getattr(entry, name)
        if value is None:
            raise InjectionError(name, "required")
        if not 0 < value <= limit:
            raise InjectionError(name, "out-of-range")
    if entry.site not in SITES or entry.side not in SIDES:
        raise InjectionError("site", "required")
    if entry.given_at is None:
        raise InjectionError("given_at", "required")
    if entry.given_at > now + timedelta(minutes=5):
        raise InjectionError("given_at", "future")
    if entry.reaction not in REACTIONS:
        raise InjectionError("reaction", "required")
    if entry.reaction != "none" and not entry.reaction_action.strip():
        raise InjectionError("reaction_action", "required")
    for name in ("notes", "reaction_action", "override_reason"):
        if len(getattr(entry, name)) > TEXT_MAX:
            raise InjectionError(name, "too-long")


def stop_waiting(consent: Consent, archive: Archive) -> bool:
    """Whether the consent has a STOP screening answer no clinician has reviewed yet."""
    if not consent.needs_review:
        return False
    try:
        definition = archive.catalog.get(consent.form_id)
    except KeyError:
        return True
    answers = submission_of(consent).get("screening") or {}
    return any(q.level == "stop" and answers.get(q.id) is True for q in definition.screening)


def _last(session: Session, patient_id: str) -> Injection | None:
    """The patient's newest injection that no correction replaced."""
    return session.scalar(
        select(Injection)
        .where(Injection.patient_id == patient_id, Injection.superseded_by.is_(None))
        .order_by(Injection.given_at.desc(), Injection.id.desc())
        .limit(1)
    )


def _day(moment: datetime, zone: ZoneInfo | None) -> date:
    return moment.astimezone(zone).date()


class Injections:
    """The injection records, over an `Archive` (its database, catalog, signer and clock)."""

    def __init__(self, archive: Archive, zone: ZoneInfo | None = None) -> None:
        self.archive = archive
        self.zone = zone
        self.records = Records(archive)

    # --- reading -----------------------------------------------------------------------------

    def situation(self, visit_id: str, today: date) -> Situation:
        """The visit, its patient, their current consent and what refuses an injection now
        (before the lot and the time are chosen)."""
        with self.archive.sessions() as session:
            visit = session.get(Visit, visit_id) if is_id(visit_id) else None
            if visit is None:
                raise InjectionMissing(visit_id)
            return self._situation(session, visit, today)

    def _situation(self, session: Session, visit: Visit, today: date) -> Situation:
        patient = session.get(Patient, visit.patient_id)
        assert patient is not None
        current = current_consent(session, patient.id, self.archive.catalog, today)
        given = session.scalar(select(Injection).where(Injection.visit_key == visit.id))
        started_under = session.get(Consent, visit.consent_id)
        found = Situation(
            visit,
            patient,
            current,
            last=_last(session, patient.id),
            given=given,
            visit_form_id=started_under.form_id if started_under is not None else "",
        )
        if current.consent is None:
            found.refusals.append(Refusal(NO_CONSENT, current.reason))
        elif stop_waiting(current.consent, self.archive):
            found.refusals.append(Refusal(STOP_NOT_REVIEWED, current.consent.id))
        if visit.status == VISIT_OPEN:
            found.refusals.append(Refusal(NOT_CHECKED_IN))
        elif visit.status == VISIT_CANCELLED:
            found.refusals.append(Refusal(VISIT_CLOSED))
        elif visit.needs_review:
            found.refusals.append(Refusal(VISIT_NOT_REVIEWED))
        return found

    def refusals(
        self, session: Session, visit: Visit, lot: Lot | None, entry: InjectionEntry, today: date
    ) -> tuple[Situation, list[Refusal]]:
        """Every reason this entry is refused now."""
        found = self._situation(session, visit, today)
        refusals = list(found.refusals)
        given_on = _day(entry.given_at or self.archive.clock(), self.zone)
        state = unusable(lot, given_on) if lot is not None else EXPIRED
        if state == RECALLED:
            refusals.append(Refusal(LOT_RECALLED, lot.recall_reason or "", "lot_id"))
        elif state == EXPIRED:
            detail = lot.expires_on.isoformat() if lot is not None else ""
            refusals.append(Refusal(LOT_EXPIRED, detail, "lot_id"))
        minimum = self._course(found).min_interval_days
        if found.last is not None and not entry.override_reason.strip():
            days = (given_on - _day(found.last.given_at, self.zone)).days
            if days < minimum:
                detail = _day(found.last.given_at, self.zone).isoformat()
                refusals.append(Refusal(TOO_SOON, f"{days}|{minimum}|{detail}", "override_reason"))
        return found, refusals

    def _course(self, found: Situation) -> Course:
        """The course of the consent the injection relies on (else the one the visit was
        started under)."""
        consent = found.current.consent
        form_id = consent.form_id if consent is not None else found.visit_form_id
        return self.archive.catalog.get(form_id).course

    def get(self, injection_id: str) -> Injection:
        with self.archive.sessions() as session:
            row = session.get(Injection, injection_id) if is_id(injection_id) else None
        if row is None:
            raise InjectionMissing(injection_id)
        return row

    def of_patient(self, patient_id: str) -> list[tuple[Injection, Lot]]:
        """The patient's injections, newest first, corrected ones included (marked so)."""
        with self.archive.sessions() as session:
            return [
                (injection, lot)
                for injection, lot in session.execute(
                    select(Injection, Lot)
                    .join(Lot, Lot.id == Injection.lot_id)
                    .where(Injection.patient_id == patient_id)
                    .order_by(Injection.given_at.desc(), Injection.created_at.desc())
                )
            ]

    # --- writing -----------------------------------------------------------------------------

    def record(
        self,
        visit_id: str,
        entry: InjectionEntry,
        clinician: Staff,
        *,
        token: str | None,
        password: str,
        code: str,
        actor: Actor,
        today: date,
    ) -> Outcome:
        """Check, sign and record the visit's injection; sealed before this returns (or left
        pending with the reason, for the archive's repair). Raises `InjectionError` (bad
        input), `InjectionRefused` (audited), `StaffError` (the signature did not hold)."""
        check_entry(entry, self.archive.clock())
        if not role_allows(clinician.role, "clinician"):
            raise InjectionError("password", "not-a-clinician")
        with self.archive.sessions() as session:
            visit = session.get(Visit, visit_id) if is_id(visit_id) else None
            if visit is None:
                raise InjectionMissing(visit_id)
            lot = session.get(Lot, entry.lot_id)
            if lot is None:
                raise InjectionError("lot_id", "required")
            found, refusals = self.refusals(session, visit, lot, entry, today)
        if found.given is not None:
            return Outcome(found.given.id, found.given.record_id or "", made=False)
        self._refuse(refusals, visit_id, actor)
        Accounts(self.archive).reauthenticate(token, password, code, actor)
        injection_id = new_id()

        def rows(session: Session, record) -> None:
            visit = session.scalar(select(Visit).where(Visit.id == visit_id).with_for_update())
            assert visit is not None
            given = session.scalar(select(Injection.id).where(Injection.visit_key == visit_id))
            if given is not None or visit.status == VISIT_GIVEN:
                raise _AlreadyGiven(given or "")
            lot = session.get(Lot, entry.lot_id)
            found, refusals = self.refusals(session, visit, lot, entry, today)
            if refusals:
                raise InjectionRefused(refusals)
            consent = found.current.consent
            assert consent is not None and lot is not None
            injection = self._new_row(
                session, injection_id, found, consent, lot, entry, clinician, record.id
            )
            injection.visit_key = visit.id
            visit.status = VISIT_GIVEN
            self._seal_body(session, record, injection, found, consent, lot, clinician)
            audit.record(session, "injection recorded", actor, injection.id)
            if entry.override_reason.strip():
                audit.record(session, "injection interval overridden", actor, injection.id)

        return self._submit(found, rows, f"injection-{visit_id}", visit_id, actor, injection_id)

    def correct(
        self,
        injection_id: str,
        entry: InjectionEntry,
        reason: str,
        clinician: Staff,
        *,
        token: str | None,
        password: str,
        code: str,
        actor: Actor,
    ) -> Outcome:
        """A new record that supersedes `injection_id` (what was really given, and why the old
        one was wrong); the old record stays as it was, marked superseded."""
        check_entry(entry, self.archive.clock())
        reason = reason.strip()
        if not reason:
            raise InjectionError("correction_reason", "required")
        if len(reason) > TEXT_MAX:
            raise InjectionError("correction_reason", "too-long")
        old = self.get(injection_id)
        if old.superseded_by is not None:
            raise InjectionError("correction_reason", "superseded")
        Accounts(self.archive).reauthenticate(token, password, code, actor)
        new_injection_id = new_id()
        today = _day(self.archive.clock(), self.zone)
        with self.archive.sessions() as session:
            visit = session.get(Visit, old.visit_id)
            assert visit is not None
            found = self._situation(session, visit, today)

        def rows(session: Session, record) -> None:
            won = session.execute(
                update(Injection)
                .where(Injection.id == old.id, Injection.superseded_by.is_(None))
                .values(superseded_by=new_injection_id)
            ).rowcount
            if not won:
                raise InjectionError("correction_reason", "superseded")
            consent = session.get(Consent, old.consent_id)
            lot = session.get(Lot, entry.lot_id)
            if lot is None:
                raise InjectionError("lot_id", "required")
            assert consent is not None
            injection = self._new_row(
                session, new_injection_id, found, consent, lot, entry, clinician, record.id,
                dose_number=old.dose_number,
            )  # fmt: skip
            injection.supersedes = old.id
            injection.correction_reason = reason
            self._seal_body(session, record, injection, found, consent, lot, clinician)
            audit.record(session, "injection corrected", actor, injection.id)

        return self._submit(found, rows, f"correct-{old.id}", old.visit_id, actor, new_injection_id)

    def _refuse(self, refusals: list[Refusal], visit_id: str, actor: Actor) -> None:
        if refusals:
            self.archive.record("injection refused", actor, visit_id)
            raise InjectionRefused(refusals)

    def _new_row(
        self,
        session: Session,
        injection_id: str,
        found: Situation,
        consent: Consent,
        lot: Lot,
        entry: InjectionEntry,
        clinician: Staff,
        record_id: str,
        *,
        dose_number: int | None = None,
    ) -> Injection:
        """The injection's row, and the patient's place in the course after it."""
        assert entry.given_at is not None and entry.dose_mg and entry.volume_ml
        patient = session.scalar(
            select(Patient).where(Patient.id == found.patient.id).with_for_update()
        )
        assert patient is not None
        number = dose_number or patient.doses_given + 1
        given_on = _day(entry.given_at, self.zone)
        course = self.archive.catalog.get(consent.form_id).course
        due = next_due(course, number, given_on)
        injection = Injection(
            id=injection_id,
            patient_id=patient.id,
            visit_id=found.visit.id,
            consent_id=consent.id,
            lot_id=lot.id,
            record_id=record_id,
            dose_mg=float(entry.dose_mg),
            volume_ml=float(entry.volume_ml),
            route=ROUTE,
            site=entry.site,
            side=entry.side,
            given_at=entry.given_at,
            notes=entry.notes.strip() or None,
            reaction=entry.reaction,
            reaction_action=entry.reaction_action.strip() or None,
            clinician_id=clinician.id,
            clinician_name=clinician.name,
            override_reason=entry.override_reason.strip() or None,
            dose_number=number,
            next_due_on=due,
            created_at=self.archive.clock(),
        )
        session.add(injection)
        if number >= patient.doses_given:
            place(session, patient.id, number, due)
        touch(session, patient.id, given_on)
        return injection

    def _seal_body(self, session, record, injection, found, consent, lot, clinician) -> None:
        """The record's body, made from the rows just written (so the sealed data and the
        table hold the same), in place of the placeholder the store was given."""
        definition = self.archive.catalog.get(consent.form_id)
        body = injection_body(
            injection,
            found.patient,
            found.visit,
            consent,
            lot,
            definition,
            second_factor=second_factor.confirmed(session, clinician.id) is not None,
            signed_at=self.archive.clock(),
        )
        record.body_json = canonical_json(body)
        record.body_sha256 = sha256_of(record.body_json)

    def _submit(self, found, rows, key, visit_id, actor, injection_id) -> Outcome:
        consent = found.current.consent
        consent_id = consent.id if consent is not None else found.visit.consent_id
        try:
            record_id = self.records.submit(
                INJECTION,
                {"pending": INJECTION},
                patient_id=found.patient.id,
                consent_id=consent_id,
                actor=actor,
                key=key,
                rows=rows,
            )
        except _AlreadyGiven:
            with self.archive.sessions() as session:
                given = session.scalar(select(Injection).where(Injection.visit_key == visit_id))
            assert given is not None
            return Outcome(given.id, given.record_id or "", made=False)
        except InjectionRefused as refused:
            self.archive.record("injection refused", actor, visit_id)
            raise refused from None
        with self.archive.sessions() as session:
            mine = session.scalar(select(Injection).where(Injection.record_id == record_id))
        assert mine is not None
        return Outcome(mine.id, record_id, made=mine.id == injection_id)


def first_visit(archive: Archive, consent_id: str, actor: Actor) -> str:
    """The visit of a first consent: the patient signed the full consent today, so there is
    no check-in; the consent is the visit's record. Its id is the consent's, so two clinicians
    opening it at once make one visit. Returns the visit's id."""
    with archive.transaction() as session:
        consent = session.get(Consent, consent_id) if is_id(consent_id) else None
        if consent is None or consent.patient_id is None:
            raise InjectionMissing(consent_id)
        if session.get(Visit, consent_id) is None:
            session.add(
                Visit(
                    id=consent.id,
                    patient_id=consent.patient_id,
                    consent_id=consent.id,
                    status=VISIT_CHECKED_IN,
                    started_by=actor.staff_id,
                    started_at=consent.created_at,
                    device_id=consent.device_id,
                    checked_in_at=consent.created_at,
                    flagged=False,
                    needs_review=False,
                )
            )
    return consent_id
