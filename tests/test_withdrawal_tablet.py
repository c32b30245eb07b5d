"""A withdrawal signed on an enrolled tablet, over HTTP on both databases: a clinician sends it
from the withdraw page to a tablet, the tablet shows the first name, the form's withdrawal
statement in the patient's language and the pad, the patient signs there and the withdrawal is
recorded and sealed (pyHanko's validator holds) with that signature; staff see it waiting and
may cancel it; the hand-off is bound to its tablet; every step is audited by id only."""

from __future__ import annotations

import json
import logging
from datetime import date
from io import BytesIO

import pytest
from pypdf import PdfReader
from sqlalchemy import select, update

from intake.archive.course_models import (
    HANDOFF_CANCELLED,
    HANDOFF_SIGNED,
    Record,
    Withdrawal,
    WithdrawalHandoff,
)
from intake.archive.models import AuditEvent, Consent
from intake.archive.tablets import Tablets
from intake.archive.withdrawal_tablet import TabletWithdrawals
from tests.support.app import on_both_databases
from tests.support.course import PAD, consent_with_patient, enrolled_tablet
from tests.support.pdf import words
from tests.support.staff import StaffActions, make_staff
from tests.support.tablet import csrf_token

pytestmark = pytest.mark.usefixtures("fast_passwords")
app_config = pytest.fixture(on_both_databases, name="app_config")


@pytest.fixture
def clinician(archive, client) -> StaffActions:
    make_staff(archive, "clinician")
    actions = StaffActions(client)
    actions.login_as("clinician")
    return actions


@pytest.fixture
def tablet_client(app):
    """The tablet in the patient's hands (an enrolled tablet of its own)."""
    client = app.test_client()
    client.tablet_id = Tablets(app.extensions["archive"]).check(client.tablet_token).id
    return client


@pytest.fixture
def consent(archive) -> tuple[str, str]:
    return consent_with_patient(archive)


def send(clinician: StaffActions, consent_id: str, tablet_id: str, **fields: str):
    sent = {"withdrawn_on": "2026-11-30", "reason": "Stopping the treatment", "present": tablet_id}
    return clinician.post(f"/staff/consents/{consent_id}/withdraw", {**sent, **fields})


def sign(client, pad: dict | None = PAD):
    token = csrf_token(client.get("/tablet/withdrawal").text)
    data = {"csrf_token": token}
    if pad is not None:
        data["signature"] = json.dumps(pad)
    return client.post("/tablet/withdrawal", data=data)


def trail(archive, target: str) -> list[str]:
    with archive.sessions() as session:
        return list(
            session.scalars(
                select(AuditEvent.event).where(AuditEvent.target == target).order_by(AuditEvent.seq)
            )
        )


def test_the_patient_signs_the_withdrawal_on_the_tablet_staff_chose(
    archive, clinician, tablet_client, consent, caplog
):
    caplog.set_level(logging.DEBUG)
    consent_id, patient_id = consent
    form = clinician.client.get(f"/staff/consents/{consent_id}/withdraw")
    assert "They are not here to sign" in form.text
    assert "data-pad" not in form.text, "no pad on the clinician's own screen"
    sent = send(clinician, consent_id, tablet_client.tablet_id)
    assert sent.status_code == 302 and sent.headers["Location"].endswith("/withdraw")
    waiting = clinician.client.get(f"/staff/consents/{consent_id}/withdraw").text
    assert "Waiting for the patient" in waiting and "signature" in waiting
    assert "Cancel the withdrawal" in waiting
    # Nothing is recorded until the patient signs.
    assert archive.get(consent_id).withdrawn_at is None

    first = tablet_client.get("/tablet/")
    assert first.status_code == 302 and first.headers["Location"] == "/tablet/withdrawal"
    page = tablet_client.get("/tablet/withdrawal")
    assert page.status_code == 200
    text = page.text.replace("&#39;", "'")
    assert "Withdrawing your consent, Zoë" in text
    assert "O'Brien" not in text and "1985" not in text and "Stopping the treatment" not in text
    statement = archive.catalog.get("b12-methylcobalamin").withdrawal_meaning
    assert statement in text and "data-pad" in text

    empty = sign(tablet_client, pad={"width": 600, "height": 200, "strokes": []})
    assert empty.status_code == 422 and "Please sign on the pad." in empty.text
    assert archive.get(consent_id).withdrawn_at is None

    done = sign(tablet_client)
    assert done.status_code == 302 and done.headers["Location"] == "/tablet/withdrawal/done"
    assert "hand the tablet back" in tablet_client.get("/tablet/withdrawal/done").text
    assert tablet_client.get("/tablet/withdrawal").status_code == 302, "nothing waits any more"

    with archive.sessions() as db:
        (row,) = db.scalars(select(Withdrawal)).all()
        handoff = db.scalar(select(WithdrawalHandoff))
        record = db.get(Record, row.record_id)
        body = json.loads(record.body_json)
    assert row.patient_signed and row.withdrawn_on == date(2026, 11, 30)
    assert handoff.status == HANDOFF_SIGNED and handoff.record_id == record.id
    repeated = TabletWithdrawals(archive).sign(
        handoff.id, tablet_client.tablet_id, None, archive.clock(), None
    )
    assert repeated == record.id, "a repeated submit finds the record the first made"
    assert record.status == "archived"
    assert body["signature"]["strokes"] == PAD["strokes"] and body["meaning"] == statement
    assert body["tablet"] == "Test tablet"
    pdf = archive.records.pdf(record.id)
    assert archive.check(pdf).holds
    reader = PdfReader(BytesIO(pdf))
    assert len(reader.pages) == 1
    shown = words(reader.pages[0].extract_text())
    assert "Withdrawal of consent" in shown and "Patient signature" in shown
    assert "Stopping the treatment" in shown and "I withdraw my consent" in shown
    assert archive.get(consent_id).withdrawn_at is not None
    assert trail(archive, handoff.id) == ["withdrawal started", "withdrawal signed"]
    assert trail(archive, consent_id)[-1] == "consent withdrawn"
    after = clinician.client.get(f"/staff/consents/{consent_id}/withdraw").text
    assert "This consent was withdrawn already." in after
    logged = caplog.text
    assert "Zoë" not in logged and "O'Brien" not in logged and "Stopping" not in logged
    assert "zoe" not in sent.headers["Location"].lower()


def test_the_statement_is_in_the_patients_language(archive, clinician, tablet_client, consent):
    consent_id, _ = consent
    with archive.transaction() as db:
        db.execute(update(Consent).where(Consent.id == consent_id).values(language="es"))
    send(clinician, consent_id, tablet_client.tablet_id)
    page = tablet_client.get("/tablet/withdrawal").text
    assert "Con mi firma retiro mi consentimiento" in page
    assert sign(tablet_client).status_code == 302
    with archive.sessions() as db:
        body = json.loads(db.scalar(select(Record.body_json)))
    assert body["meaning"].startswith("Con mi firma retiro mi consentimiento")


def test_staff_cancel_a_waiting_withdrawal_and_the_tablet_lets_go(
    archive, clinician, tablet_client, consent
):
    consent_id, patient_id = consent
    assert "waiting-withdrawal" not in clinician.client.get(f"/staff/patients/{patient_id}").text
    send(clinician, consent_id, tablet_client.tablet_id)
    # The patient's page names the waiting withdrawal, its tablet, and links to it.
    patient_page = clinician.client.get(f"/staff/patients/{patient_id}").text
    assert "A withdrawal is waiting for the patient's signature" in patient_page
    assert "Sent to the tablet “Test tablet”" in patient_page
    assert f'href="/staff/consents/{consent_id}/withdraw"' in patient_page
    token = csrf_token(tablet_client.get("/tablet/withdrawal").text)
    cancelled = clinician.post(f"/staff/consents/{consent_id}/withdraw/cancel")
    assert "waiting-withdrawal" not in clinician.client.get(f"/staff/patients/{patient_id}").text
    assert cancelled.status_code == 302
    late = tablet_client.post(
        "/tablet/withdrawal", data={"csrf_token": token, "signature": json.dumps(PAD)}
    )
    assert late.status_code == 302 and late.headers["Location"] == "/tablet/"
    with archive.sessions() as db:
        handoff = db.scalar(select(WithdrawalHandoff))
        assert handoff.status == HANDOFF_CANCELLED
        assert db.query(Withdrawal).count() == 0 and db.query(Record).count() == 0
    assert archive.get(consent_id).withdrawn_at is None
    assert trail(archive, handoff.id) == ["withdrawal started", "withdrawal cancelled"]
    again = clinician.post(f"/staff/consents/{consent_id}/withdraw/cancel")
    assert again.status_code == 302
    page = clinician.client.get(f"/staff/consents/{consent_id}/withdraw").text
    assert "Record the withdrawal" in page, "it may be sent again"


def test_the_hand_off_is_bound_to_its_tablet(archive, app, clinician, tablet_client, consent):
    consent_id, _ = consent
    send(clinician, consent_id, tablet_client.tablet_id)
    other = app.test_client()
    assert other.get("/tablet/withdrawal").status_code == 302, "another tablet sees nothing"
    assert other.get("/tablet/").headers.get("Location") != "/tablet/withdrawal"
    waiting = TabletWithdrawals(archive).waiting(consent_id)
    with pytest.raises(Exception, match="not-waiting"):
        TabletWithdrawals(archive).sign(
            waiting.id, enrolled_tablet(archive, "Other"), None, archive.clock(), None
        )
    assert archive.get(consent_id).withdrawn_at is None


def test_refusals_are_named_at_the_field_and_nothing_is_sent(
    archive, app, clinician, tablet_client, consent
):
    consent_id, patient_id = consent
    unknown = send(clinician, consent_id, "0" * 32)
    assert unknown.status_code == 422 and "That tablet is not enrolled" in unknown.text
    assert "Stopping the treatment" in unknown.text, "the other entries are kept"
    no_reason = send(clinician, consent_id, tablet_client.tablet_id, reason=" ")
    assert no_reason.status_code == 422 and "Write why the patient withdrew." in no_reason.text
    # A tablet busy with a visit takes no withdrawal, and a tablet with one waiting no visit.
    make_staff(archive, "front-desk")
    desk = StaffActions(app.test_client())
    desk.login_as("front-desk")
    visit = desk.post(f"/staff/patients/{patient_id}/visits", {"tablet": tablet_client.tablet_id})
    assert visit.status_code == 302
    busy = send(clinician, consent_id, tablet_client.tablet_id)
    assert busy.status_code == 422 and "in use for another patient" in busy.text
    with archive.sessions() as db:
        assert db.query(WithdrawalHandoff).count() == 0
    free = enrolled_tablet(archive, "Front desk 2")
    assert send(clinician, consent_id, free).status_code == 302
    twice = send(clinician, consent_id, tablet_client.tablet_id)
    assert twice.status_code == 422 and "Waiting for the patient" in twice.text
    refused = desk.post(f"/staff/patients/{patient_id}/visits", {"tablet": free})
    assert refused.status_code == 422 and "already has a visit open" in refused.text
    assert desk.post(f"/staff/consents/{consent_id}/withdraw/cancel").status_code == 403
