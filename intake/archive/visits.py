"""A returning patient's visit: staff start it from the patient's page for one enrolled tablet,
the patient checks in there (the form's `[[visit_screening]]` answers and a signature, sealed as
a one-page `visit` record), and a clinician reviews a flagged one. Staff may cancel a visit
that is still open. Every step is an audit event naming ids only. No Flask here.

The tablet never looks a patient up: it asks `open_for_tablet` for the visit staff sent to it,
and shows only the patient's first name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from intake.archive import audit
from intake.archive.audit import Actor
from intake.archive.course_models import (
    VISIT,
    VISIT_CANCELLED,
    VISIT_CHECKED_IN,
    VISIT_OPEN,
    Patient,
    Record,
    Visit,
)
from intake.archive.errors import ArchiveError
from intake.archive.models import PENDING, Consent, Staff, Tablet, is_id
from intake.archive.records import body_of
from intake.checkin import CheckIn
from intake.definition import ConsentDefinition
from intake.languages import date_of_birth_shown, words
from intake.pdf.record import RecordField, RecordPage, form_words, record_language
from intake.pdf.render import LEVEL_WORDS, signed_time
from intake.submission import SignaturePad

if TYPE_CHECKING:
    from intake.archive.service import Archive

#: A review note's length at most (as a consent's review).
NOTE_MAX = 2000

#: Why a visit cannot be started, checked in, cancelled or reviewed (`VisitError.code`).
NO_PATIENT = "no-patient"
NOT_CURRENT = "not-current"
NO_TABLET = "no-tablet"
TABLET_BUSY = "tablet-busy"
NOT_OPEN = "not-open"
NOT_FLAGGED = "not-flagged"
NO_NOTE = "no-note"


class VisitError(ArchiveError):
    """A visit action refused: `code` says which rule (the page words it), `detail` is the
    staff-facing reason when there is one (e.g. why the consent is not current)."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class OpenVisit:
    """What the tablet may know of the visit sent to it: ids and the first name, nothing else."""

    visit_id: str
    first_name: str
    form_id: str
    #: The language the patient read their consent in: the check-in starts in it.
    language: str


@dataclass(frozen=True)
class VisitView:
    """A visit on the patient's page: the row, and its answers as the patient gave them."""

    visit: Visit
    answers: list[dict[str, Any]]
    reviewer: str
    #: Why the check-in's sealed PDF is not made yet (None: made, or no check-in).
    waiting: str | None = None


class Visits:
    def __init__(self, archive: Archive) -> None:
        self.archive = archive

    # --- staff: start and cancel -------------------------------------------------------------

    def start(self, patient_id: str, tablet_id: str, actor: Actor, *, today: date) -> Visit:
        """Open a visit for the patient on the enrolled tablet, under their current consent.

        Refused (`VisitError`) for an unknown patient, a tablet that is not enrolled, one that
        has a visit open already, or a patient without a current consent (with the reason)."""
        from intake.archive.patients import current_consent
        from intake.archive.withdrawal_tablet import tablet_busy

        with self.archive.transaction() as session:
            patient = session.get(Patient, patient_id) if is_id(patient_id) else None
            if patient is None or patient.merged_into is not None:
                raise VisitError(NO_PATIENT)
            tablet = session.get(Tablet, tablet_id) if is_id(tablet_id) else None
            if tablet is None or tablet.revoked_at is not None:
                raise VisitError(NO_TABLET)
            current = current_consent(session, patient.id, self.archive.catalog, today)
            if current.consent is None:
                raise VisitError(NOT_CURRENT, current.reason)
            busy = session.scalar(
                select(Visit.id)
                .where(Visit.device_id == tablet.id, Visit.status == VISIT_OPEN)
                .with_for_update()
            )
            if busy is not None or tablet_busy(session, tablet.id):
                raise VisitError(TABLET_BUSY)
            visit = Visit(
                patient_id=patient.id,
                consent_id=current.consent.id,
                status=VISIT_OPEN,
                started_by=actor.staff_id,
                started_at=self.archive.clock(),
                device_id=tablet.id,
            )
            session.add(visit)
            session.flush()
            audit.record(session, "visit started", actor, visit.id)
        return visit

    def cancel(self, visit_id: str, actor: Actor) -> None:
        """Cancel a visit the patient has not checked in to (`VisitError` otherwise)."""
        with self.archive.transaction() as session:
            done = session.execute(
                update(Visit)
                .where(Visit.id == visit_id, Visit.status == VISIT_OPEN)
                .values(status=VISIT_CANCELLED, cancelled_at=self.archive.clock())
            ).rowcount
            if not done:
                raise VisitError(NOT_OPEN)
            audit.record(session, "visit cancelled", actor, visit_id)

    # --- the tablet ------------------------------------------------------------------------

    def open_for_tablet(self, tablet_id: str | None) -> OpenVisit | None:
        """The visit staff sent to this tablet and that is still open, if any."""
        if tablet_id is None:
            return None
        with self.archive.sessions() as session:
            row = session.execute(
                select(Visit.id, Patient.first_name, Consent.form_id, Consent.language)
                .join(Patient, Patient.id == Visit.patient_id)
                .join(Consent, Consent.id == Visit.consent_id)
                .where(Visit.device_id == tablet_id, Visit.status == VISIT_OPEN)
                .order_by(Visit.started_at.desc())
                .limit(1)
            ).first()
        return OpenVisit(*row) if row is not None else None

    def check_in(
        self,
        visit_id: str,
        tablet_id: str,
        checkin: CheckIn,
        actor: Actor,
        *,
        device: dict[str, str],
        key: str | None = None,
    ) -> str:
        """Seal the patient's check-in as the visit's record; the record's id. The visit must be
        open and on this tablet (`VisitError` otherwise); with `key`, a repeated submit returns
        the record the first made."""
        archive = self.archive
        if key is not None and (known := archive.records.known(key)) is not None:
            return known
        with archive.sessions() as session:
            visit = session.get(Visit, visit_id) if is_id(visit_id) else None
            if visit is None or visit.status != VISIT_OPEN or visit.device_id != tablet_id:
                raise VisitError(NOT_OPEN)
            patient = session.get(Patient, visit.patient_id)
            consent = session.get(Consent, visit.consent_id)
            tablet = session.get(Tablet, tablet_id)
        assert patient is not None and consent is not None
        definition = archive.catalog.get(consent.form_id)
        body = visit_body(
            visit, patient, consent, definition, checkin, tablet.name if tablet else "", device
        )
        moment = archive.clock()

        def mark_checked_in(session: Session, record: Record) -> None:
            won = session.execute(
                update(Visit)
                .where(
                    Visit.id == visit_id, Visit.status == VISIT_OPEN, Visit.device_id == tablet_id
                )
                .values(
                    status=VISIT_CHECKED_IN,
                    checked_in_at=moment,
                    record_id=record.id,
                    flagged=checkin.flagged,
                    needs_review=checkin.flagged,
                )
            ).rowcount
            if not won:
                raise VisitError(NOT_OPEN)
            audit.record(session, "visit checked in", actor, visit_id)
            _touch(session, visit.patient_id, checkin.signed_at.date())

        return archive.records.submit(
            VISIT,
            body,
            patient_id=visit.patient_id,
            consent_id=visit.consent_id,
            actor=actor,
            key=key,
            rows=mark_checked_in,
        )

    # --- clinicians ------------------------------------------------------------------------

    def review(self, visit_id: str, staff: Staff, note: str, actor: Actor) -> None:
        """A clinician's review of a flagged visit: the note, who and when, kept on the visit
        (the sealed check-in is not touched)."""
        note = note.strip()
        if not note or len(note) > NOTE_MAX:
            raise VisitError(NO_NOTE)
        with self.archive.transaction() as session:
            done = session.execute(
                update(Visit)
                .where(Visit.id == visit_id, Visit.flagged.is_(True))
                .values(
                    needs_review=False,
                    reviewed_by=staff.id,
                    reviewed_at=self.archive.clock(),
                    review_note=note,
                )
            ).rowcount
            if not done:
                raise VisitError(NOT_FLAGGED)
            audit.record(session, "visit reviewed", actor, visit_id)

    # --- reading ---------------------------------------------------------------------------

    def get(self, visit_id: str) -> Visit:
        with self.archive.sessions() as session:
            visit = session.get(Visit, visit_id) if is_id(visit_id) else None
        if visit is None:
            raise VisitError(NOT_OPEN)
        return visit

    def of_patient(self, patient_id: str, *, limit: int = 50) -> list[VisitView]:
        """The patient's visits, newest first, each with its answers and its reviewer's name."""
        with self.archive.sessions() as session:
            rows = session.execute(
                select(Visit, Record, Staff.name)
                .outerjoin(Record, Record.id == Visit.record_id)
                .outerjoin(Staff, Staff.id == Visit.reviewed_by)
                .where(Visit.patient_id == patient_id)
                .order_by(Visit.started_at.desc(), Visit.id)
                .limit(limit)
            ).all()
        return [
            VisitView(
                visit,
                # An erased patient's records keep no body (`patient_erasure`).
                body_of(record)["answers"] if record and record.body_json else [],
                reviewer or "",
                (record.last_error or "") if record and record.status == PENDING else None,
            )
            for visit, record, reviewer in rows
        ]


def _touch(session: Session, patient_id: str, day: date) -> None:
    """The patient's last entry moves to `day` (retention runs from it)."""
    from intake.archive.patients import touch

    touch(session, patient_id, day)


def visit_body(
    visit: Visit,
    patient: Patient,
    consent: Consent,
    definition: ConsentDefinition,
    checkin: CheckIn,
    tablet: str,
    device: dict[str, str],
) -> dict[str, Any]:
    """What the visit record seals: who checked in under which consent, the questions as shown
    and the answers, the words shown and signed under, the signature, the tablet."""
    tiers = {tier.tier: tier for tier in definition.side_effects}
    answers = []
    for answer in checkin.answers:
        question = definition.visit_question(answer.id)
        answers.append(
            {
                "id": answer.id,
                "question": question.question,
                "level": question.level,
                "yes": answer.yes,
                "tier": answer.tier,
                "tier_heading": tiers[answer.tier].heading if answer.tier else None,
                "items": list(answer.items),
            }
        )
    pad = checkin.signature
    return {
        "visit_id": visit.id,
        "patient": {
            "id": patient.id,
            "legal_name": patient.legal_name,
            "date_of_birth": patient.date_of_birth.isoformat() if patient.date_of_birth else None,
        },
        "consent": {"id": consent.id, "pdf_sha256": consent.pdf_sha256},
        "form": {"id": definition.id, "version": definition.version, "sha256": definition.sha256},
        "intro": definition.visit.intro,
        "answers": answers,
        "reminder": definition.visit.side_effects_reminder,
        "meaning": definition.visit.meaning,
        "signature": {
            "width": pad.width,
            "height": pad.height,
            "strokes": [[list(point) for point in stroke] for stroke in pad.strokes],
        },
        "signed_at": checkin.signed_at.isoformat(),
        "tablet": tablet,
        "device": {"user_agent": device.get("user_agent", ""), "ip": device.get("ip", "")},
    }


def answer_text(answer: dict[str, Any]) -> str:
    """An answer's detail after its question: the tier of a reaction and the items picked."""
    if not answer.get("tier"):
        return ""
    items = ", ".join(answer.get("items") or [])
    return f"{answer['tier_heading']}" + (f": {items}" if items else "")


#: The longest browser description the page shows (the whole one is in `record.json`), so
#: the record stays one page.
DEVICE_SHOWN = 100


def shortened(text: str, limit: int = DEVICE_SHOWN) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def visit_page(
    record: Record, body: dict[str, Any], consent: Consent, definition: ConsentDefinition
) -> RecordPage:
    """The visit's one page, from its sealed body (the renderer of `visit` records)."""
    language = record_language(consent.language)
    _ = words(language)
    flagged = [a for a in body["answers"] if a["yes"]]
    fields = [
        RecordField(_("Patient"), body["patient"]["legal_name"]),
        RecordField(
            _("Date of birth"), date_of_birth_shown(body["patient"]["date_of_birth"], language)
        ),
        RecordField(_("Visit"), body["visit_id"]),
    ]
    for answer in body["answers"]:
        detail = answer_text(answer)
        text = answer["question"] + (f"\n{detail}" if detail else "")
        # A "yes" is shaded, and its level (STOP, CAUTION) stands beside it.
        level = answer["level"]
        level = _(LEVEL_WORDS[level]) if level in LEVEL_WORDS else level.upper()
        label = _("Yes · %(level)s", level=level) if answer["yes"] else _("No")
        fields.append(RecordField(label, text, flagged=answer["yes"]))
    sig = body["signature"]
    pad = SignaturePad(
        sig["width"], sig["height"], tuple(tuple(map(tuple, s)) for s in sig["strokes"])
    )
    signed = signed_time(datetime.fromisoformat(body["signed_at"]), language)
    review = _("Clinician review required: %(count)s answer(s) below.", count=len(flagged))
    return RecordPage(
        kind=VISIT,
        title=_("Visit check-in"),
        language=language,
        clinic_name=definition.clinic_name,
        intro=body["intro"],
        notice=review if flagged else "",
        fields=tuple(fields),
        note=body["reminder"],
        signature=pad,
        signature_heading=_("Patient signature"),
        signature_meaning=body["meaning"],
        signature_rows=(
            RecordField(_("Signed by"), body["patient"]["legal_name"]),
            RecordField(_("Signed"), signed),
        ),
        record_rows=(
            RecordField(_("Form"), form_words(_, body["form"])),
            RecordField(_("Tablet"), body["tablet"]),
            RecordField(_("Device"), shortened(body["device"]["user_agent"])),
            RecordField(_("Record SHA-256"), record.body_sha256),
            RecordField(_("Submitted data"), _("attached to this PDF as record.json")),
        ),
    )
