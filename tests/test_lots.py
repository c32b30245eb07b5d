"""The lots in stock, on SQLite and PostgreSQL: an admin adds lots and recalls one with a
reason (audited); bad input is named at its field; an expired or recalled lot is not usable;
the pages are for admins only."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from intake.archive.audit import Actor
from intake.archive.lots import EXPIRED, RECALLED, LotError, Lots, NewLot, unusable
from tests.support.app import on_both_databases
from tests.support.devices import plain_browser
from tests.support.staff import StaffActions, events, make_staff

pytestmark = pytest.mark.usefixtures("fast_passwords")
app_config = pytest.fixture(on_both_databases, name="app_config")

TODAY = date(2026, 12, 1)


def new_lot(number: str = "B12-2026-041", expires_on: date | None = date(2027, 6, 30)) -> NewLot:
    return NewLot(
        product="Methylcobalamin injection",
        strength="1 mg/ml",
        supplier="Hillside Compounding Pharmacy",
        lot_number=number,
        expires_on=expires_on,
    )


@pytest.fixture
def admin(app, archive) -> StaffActions:
    make_staff(archive, "admin")
    actions = StaffActions(plain_browser(app))
    actions.login_as("admin")
    return actions


def fields(lot: NewLot) -> dict[str, str]:
    return {
        "product": lot.product,
        "strength": lot.strength,
        "supplier": lot.supplier,
        "lot_number": lot.lot_number,
        "expires_on": lot.expires_on.isoformat() if lot.expires_on else "",
    }


def test_an_admin_adds_a_lot_and_recalls_it(archive, admin):
    added = admin.post("/staff/lots", fields(new_lot()))
    assert added.status_code == 302 and added.headers["Location"] == "/staff/lots"
    (lot,) = Lots(archive).all()
    assert (lot.product, lot.strength, lot.lot_number) == (
        "Methylcobalamin injection",
        "1 mg/ml",
        "B12-2026-041",
    )
    assert lot.supplier == "Hillside Compounding Pharmacy" and lot.expires_on == date(2027, 6, 30)
    page = admin.client.get("/staff/lots").text
    assert "B12-2026-041" in page and "In use" in page and "Jun 30, 2027" in page
    (event,) = events(archive, "lot added")
    assert event.target == lot.id and event.staff_id == lot.created_by

    empty = admin.post(f"/staff/lots/{lot.id}/recall", {"reason": " "})
    assert empty.status_code == 422 and "This field is required." in empty.text
    done = admin.post(f"/staff/lots/{lot.id}/recall", {"reason": "Pharmacy recall: particles"})
    assert done.status_code == 302
    lot = Lots(archive).get(lot.id)
    assert lot.recalled_at is not None and lot.recall_reason == "Pharmacy recall: particles"
    assert unusable(lot, TODAY) == RECALLED and Lots(archive).usable(TODAY) == []
    page = admin.client.get("/staff/lots").text
    assert "Recalled" in page and "Pharmacy recall: particles" in page
    (event,) = events(archive, "lot recalled")
    assert event.target == lot.id and "particles" not in event.user_agent

    again = admin.post(f"/staff/lots/{lot.id}/recall", {"reason": "again"})
    assert again.status_code == 200 and "recalled already" in again.text
    assert len(events(archive, "lot recalled")) == 1


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("product", "", "This field is required."),
        ("lot_number", "x" * 101, "This is too long."),
        ("expires_on", "2026-02-30", "must be a real date"),
        ("expires_on", "2020-01-01", "has expired already"),
    ],
)
def test_bad_input_is_named_at_its_field(archive, admin, field, value, message):
    sent = {**fields(new_lot()), field: value}
    response = admin.post("/staff/lots", sent)
    assert response.status_code == 422 and message in response.text
    assert Lots(archive).all() == []
    # The other entries are kept in the form.
    kept = next(name for name in ("supplier", "strength") if name != field)
    assert sent[kept] in response.text


def test_the_same_lot_number_twice_is_refused(archive, admin):
    assert admin.post("/staff/lots", fields(new_lot())).status_code == 302
    twice = admin.post("/staff/lots", fields(new_lot()))
    assert twice.status_code == 422 and "already has a lot with this number" in twice.text
    assert len(Lots(archive).all()) == 1


def test_expired_and_recalled_lots_are_not_usable(archive):
    lots = Lots(archive)
    soon = lots.add(new_lot("A-1", TODAY), Actor(), today=TODAY)
    later = lots.add(new_lot("A-2", TODAY + timedelta(days=90)), Actor(), today=TODAY)
    recalled = lots.add(new_lot("A-3", TODAY + timedelta(days=90)), Actor(), today=TODAY)
    lots.recall(recalled.id, "recall", Actor())
    assert [lot.id for lot in lots.usable(TODAY)] == [soon.id, later.id]
    assert unusable(lots.get(soon.id), TODAY) is None
    tomorrow = TODAY + timedelta(days=1)
    assert unusable(lots.get(soon.id), tomorrow) == EXPIRED
    assert [lot.id for lot in lots.usable(tomorrow)] == [later.id]
    with pytest.raises(LotError) as refused:
        lots.add(new_lot("A-4", TODAY - timedelta(days=1)), Actor(), today=TODAY)
    assert refused.value.field == "expires_on" and refused.value.code == "past"


@pytest.mark.parametrize("role", ["front-desk", "clinician"])
def test_lots_are_for_admins_only(app, archive, role):
    make_staff(archive, role)
    staff = StaffActions(plain_browser(app))
    staff.login_as(role)
    assert staff.client.get("/staff/lots").status_code == 403
    assert staff.post("/staff/lots", fields(new_lot())).status_code == 403
    assert Lots(archive).all() == []
