"""The lots of product in stock: added by an admin, recalled with a reason, never edited or
deleted (an injection names its lot for as long as the record is kept). An expired or recalled
lot cannot be chosen for an injection. Each change is one transaction with its audit row. No
Flask here: the staff pages and the tests call `Lots`.

Refusals are `LotError(field, code)`: the code names the rule (the staff pages word it through
the message catalogs), the field where the form shows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from intake.archive import audit
from intake.archive.accounts import Database
from intake.archive.audit import Actor
from intake.archive.course_models import Lot
from intake.archive.models import is_id

#: The longest text each field of a lot holds (the columns' sizes).
LIMITS = {"product": 200, "strength": 100, "supplier": 200, "lot_number": 100}
REASON_MAX = 1000

#: Why a lot cannot be chosen today.
EXPIRED, RECALLED = "expired", "recalled"


class LotError(ValueError):
    """A lot refused: `code` names the rule, `field` the form field it belongs to."""

    def __init__(self, field: str, code: str) -> None:
        super().__init__(f"{field}: {code}")
        self.field = field
        self.code = code


class LotMissing(LookupError):
    """No lot has the id asked for."""


@dataclass(frozen=True)
class NewLot:
    """A lot as an admin types it in."""

    product: str
    strength: str
    supplier: str
    lot_number: str
    expires_on: date | None


def unusable(lot: Lot, today: date) -> str | None:
    """Why `lot` cannot be chosen on `today` (`EXPIRED`, `RECALLED`), or None: it can. A lot
    holds through its expiry day."""
    if lot.recalled_at is not None:
        return RECALLED
    if lot.expires_on < today:
        return EXPIRED
    return None


def _clean(new: NewLot) -> dict[str, object]:
    values: dict[str, object] = {}
    for name, limit in LIMITS.items():
        text = " ".join(str(getattr(new, name) or "").split())
        if not text:
            raise LotError(name, "required")
        if len(text) > limit:
            raise LotError(name, "too-long")
        values[name] = text
    if new.expires_on is None:
        raise LotError("expires_on", "required")
    values["expires_on"] = new.expires_on
    return values


class Lots:
    """The lots in stock, over the archive's database (its sessions and clock)."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def add(self, new: NewLot, actor: Actor, *, today: date) -> Lot:
        """A new lot, audited. Refused: a field left empty or too long, an expiry already
        past, or the same product and lot number twice."""
        values = _clean(new)
        if new.expires_on is not None and new.expires_on < today:
            raise LotError("expires_on", "past")
        try:
            with self.database.transaction() as session:
                lot = Lot(**values, created_by=actor.staff_id, created_at=self.database.clock())
                session.add(lot)
                session.flush()
                audit.record(session, "lot added", actor, lot.id)
                return lot
        except IntegrityError:
            raise LotError("lot_number", "duplicate") from None

    def recall(self, lot_id: str, reason: str, actor: Actor) -> Lot:
        """Mark a lot recalled, with the reason: it can no longer be chosen. Audited."""
        reason = reason.strip()
        if not reason:
            raise LotError("reason", "required")
        if len(reason) > REASON_MAX:
            raise LotError("reason", "too-long")
        with self.database.transaction() as session:
            lot = self._get(session, lot_id, lock=True)
            if lot.recalled_at is not None:
                raise LotError("reason", "recalled-already")
            lot.recalled_at = self.database.clock()
            lot.recalled_by = actor.staff_id
            lot.recall_reason = reason
            audit.record(session, "lot recalled", actor, lot.id)
            return lot

    def get(self, lot_id: str) -> Lot:
        with self.database.sessions() as session:
            return self._get(session, lot_id)

    @staticmethod
    def _get(session: Session, lot_id: str, *, lock: bool = False) -> Lot:
        if not is_id(lot_id):
            raise LotMissing(lot_id)
        query = select(Lot).where(Lot.id == lot_id)
        lot = session.scalar(query.with_for_update() if lock else query)
        if lot is None:
            raise LotMissing(lot_id)
        return lot

    def all(self) -> list[Lot]:
        """Every lot, the ones that expire first first."""
        with self.database.sessions() as session:
            return list(session.scalars(select(Lot).order_by(Lot.expires_on, Lot.product, Lot.id)))

    def usable(self, today: date) -> list[Lot]:
        """The lots that may be chosen on `today`: not recalled, not expired."""
        with self.database.sessions() as session:
            return list(
                session.scalars(
                    select(Lot)
                    .where(Lot.recalled_at.is_(None), Lot.expires_on >= today)
                    .order_by(Lot.expires_on, Lot.product, Lot.id)
                )
            )
