"""What an injection record seals, and its one page: the patient, the visit and the consent it
relies on, the lot, dose, volume, route and site, the time, the observation afterwards, and the
clinician who signed it with their password (and second factor). No Flask here.

The record is its own sealed PDF, not an incremental revision of the visit's: the visit's PDF
is the patient's signed check-in, sealed and certified once, and a revision appended to it would
change that file's bytes (and its SHA-256, which the archive and the exports hold) every time a
clinician records or corrects an injection. Its own PDF keeps each signed document whole, and
names the visit and the consent it relies on (document id and SHA-256).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from intake.archive.course_models import INJECTION, Injection, Lot, Patient, Record, Visit
from intake.archive.models import Consent
from intake.definition import ConsentDefinition
from intake.languages import N_, Words, date_in_words, words
from intake.pdf.record import RecordField, RecordPage, form_words, record_language
from intake.pdf.render import signed_time

#: How a site and a side read on the record.
SITE_WORDS = {
    "deltoid": N_("deltoid"),
    "gluteal": N_("gluteal"),
    "vastus-lateralis": N_("vastus lateralis"),
}
SIDE_WORDS = {"left": N_("left"), "right": N_("right")}
#: How the clinician signed, as the record's body says it (translated where shown).
SIGNED_WITH = (N_("password and second factor"), N_("password"))


def site_words(site: str, side: str, _: Words | None = None) -> str:
    """The site as the record reads it ("left deltoid"), in the catalog `_`'s language."""
    _ = _ or words("en")
    return _(
        "%(side)s %(site)s",
        side=_(SIDE_WORDS[side]) if side in SIDE_WORDS else side,
        site=_(SITE_WORDS[site]) if site in SITE_WORDS else site,
    )


def number_text(value: float) -> str:
    """A dose or volume as typed: 1.0 → "1", 0.25 → "0.25"."""
    return f"{value:.3f}".rstrip("0").rstrip(".")


def injection_body(
    injection: Injection,
    patient: Patient,
    visit: Visit,
    consent: Consent,
    lot: Lot,
    definition: ConsentDefinition,
    *,
    second_factor: bool,
    signed_at: datetime,
) -> dict[str, Any]:
    """The sealed body: everything the page shows, as data (numbers as text, so the canonical
    JSON never depends on how a float prints)."""
    return {
        "injection_id": injection.id,
        "patient": {
            "id": patient.id,
            "legal_name": patient.legal_name,
            "date_of_birth": patient.date_of_birth.isoformat() if patient.date_of_birth else None,
        },
        "visit": {"id": visit.id, "record_id": visit.record_id},
        "consent": {"id": consent.id, "pdf_sha256": consent.pdf_sha256},
        "form": {"id": definition.id, "version": definition.version},
        "lot": {
            "id": lot.id,
            "product": lot.product,
            "strength": lot.strength,
            "supplier": lot.supplier,
            "lot_number": lot.lot_number,
            "expires_on": lot.expires_on.isoformat(),
        },
        "dose_mg": number_text(injection.dose_mg),
        "volume_ml": number_text(injection.volume_ml),
        "route": injection.route,
        "site": injection.site,
        "side": injection.side,
        "given_at": injection.given_at.isoformat(),
        "notes": injection.notes or "",
        "reaction": injection.reaction,
        "reaction_action": injection.reaction_action or "",
        "dose_number": injection.dose_number,
        "next_due_on": injection.next_due_on.isoformat() if injection.next_due_on else None,
        "override_reason": injection.override_reason,
        "supersedes": injection.supersedes,
        "correction_reason": injection.correction_reason,
        "clinician": {"id": injection.clinician_id, "name": injection.clinician_name},
        "signed_with": "password and second factor" if second_factor else "password",
        "signed_at": signed_at.isoformat(),
    }


def _reaction_text(body: dict[str, Any], definition: ConsentDefinition, _: Words) -> str:
    if body["reaction"] == "none":
        return _("None observed")
    tiers = {tier.tier: tier.heading for tier in definition.side_effects}
    return tiers.get(body["reaction"], body["reaction"])


def injection_page(
    record: Record, body: dict[str, Any], consent: Consent, definition: ConsentDefinition
) -> RecordPage:
    """The injection's one page, from its sealed body (the renderer of `injection` records)."""
    language = record_language(consent.language)
    _ = words(language)
    lot = body["lot"]
    given = datetime.fromisoformat(body["given_at"])
    born = body["patient"]["date_of_birth"]
    check_in = body["visit"]["record_id"]
    reaction = _reaction_text(body, definition, _)
    if body["reaction_action"]:
        reaction = _(
            "%(reaction)s. What was done: %(action)s",
            reaction=reaction,
            action=body["reaction_action"],
        )
    fields = [
        RecordField(
            _("Patient"),
            _(
                "%(name)s (born %(born)s)",
                name=body["patient"]["legal_name"],
                born=date_in_words(born, language),
            )
            if born
            else body["patient"]["legal_name"],
        ),
        RecordField(
            _("Visit"),
            _("%(visit)s (check-in record %(record)s)", visit=body["visit"]["id"], record=check_in)
            if check_in
            else body["visit"]["id"],
        ),
        RecordField(
            _("Lot"),
            _(
                "%(product)s %(strength)s, %(supplier)s: lot %(lot)s, expires %(expires)s",
                product=lot["product"],
                strength=lot["strength"],
                supplier=lot["supplier"],
                lot=lot["lot_number"],
                expires=date_in_words(lot["expires_on"], language),
            ),
        ),
        RecordField(
            _("Dose"),
            _(
                "%(dose)s mg in %(volume)s ml, %(route)s",
                dose=body["dose_mg"],
                volume=body["volume_ml"],
                route=body["route"],
            ),
        ),
        RecordField(_("Site"), site_words(body["site"], body["side"], _)),
        RecordField(_("Given"), signed_time(given, language)),
        RecordField(
            _("In the course"),
            _(
                "dose %(number)s; next due %(next)s",
                number=body["dose_number"],
                next=date_in_words(body["next_due_on"], language)
                if body["next_due_on"]
                else _("none"),
            ),
        ),
        RecordField(_("Notes"), body["notes"]),
        RecordField(_("Observation afterwards"), reaction, flagged=body["reaction"] != "none"),
    ]
    if body["override_reason"]:
        fields.append(
            RecordField(_("Sooner than the course allows"), body["override_reason"], flagged=True)
        )
    notice = ""
    if body["supersedes"]:
        notice = _("This record corrects record of injection %(id)s.", id=body["supersedes"])
        fields.append(RecordField(_("Why corrected"), body["correction_reason"] or ""))
    clinician = body["clinician"]["name"]
    return RecordPage(
        kind=INJECTION,
        title=_("Injection record"),
        clinic_name=definition.clinic_name,
        intro=definition.treatment,
        notice=notice,
        fields=tuple(fields),
        signature_heading=_("Clinician's electronic signature"),
        signature_meaning=_(
            "%(clinician)s confirmed this record with their %(signed_with)s as their "
            "electronic signature.",
            clinician=clinician,
            signed_with=_(body["signed_with"]),
        ),
        signature_rows=(
            RecordField(_("Signed by"), clinician),
            RecordField(
                _("Signed"),
                signed_time(datetime.fromisoformat(body["signed_at"]), language),
            ),
        ),
        record_rows=(
            RecordField(_("Form"), form_words(_, body["form"])),
            RecordField(_("Record SHA-256"), record.body_sha256),
            RecordField(_("Recorded data"), _("attached to this PDF as record.json")),
        ),
        language=language,
    )
