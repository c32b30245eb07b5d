"""Voiding a consent taken by mistake or forged, on SQLite and PostgreSQL: from its staff page
and with `intake archive void`. It is kept, marked VOID with the reason, audited; its sealed
PDF is byte for byte the same."""

from __future__ import annotations

import hashlib

import pytest

from intake.archive.marks import NO_REASON
from tests.support.app import on_both_databases
from tests.support.devices import plain_browser
from tests.support.staff import StaffActions, add_consent, events, make_staff

pytestmark = pytest.mark.usefixtures("fast_passwords")
app_config = pytest.fixture(on_both_databases, name="app_config")


@pytest.fixture
def admin(app, archive) -> StaffActions:
    make_staff(archive, "admin")
    actions = StaffActions(plain_browser(app))
    actions.login_as("admin")
    return actions


def pdf_sha256(archive, consent_id: str) -> str:
    return hashlib.sha256(archive.pdf(consent_id)).hexdigest()


def test_an_admin_voids_a_consent_with_a_reason(archive, admin, demo_data):
    consent_id = add_consent(archive, demo_data)
    before = pdf_sha256(archive, consent_id)
    url = f"/staff/consents/{consent_id}/void"
    assert "Void this consent…" in admin.client.get(f"/staff/consents/{consent_id}").text

    empty = admin.post(url, {"reason": "  "})
    assert empty.status_code == 422 and NO_REASON in empty.text
    assert archive.get(consent_id).voided_at is None

    done = admin.post(url, {"reason": "Taken by mistake: signed twice"})
    assert done.status_code == 302 and done.headers["Location"] == f"/staff/consents/{consent_id}"
    consent = archive.get(consent_id)
    assert consent.status == "archived" and consent.voided_at is not None
    assert consent.void_reason == "Taken by mistake: signed twice" and consent.voided_by
    assert pdf_sha256(archive, consent_id) == before == consent.pdf_sha256
    page = admin.client.get(f"/staff/consents/{consent_id}").text
    assert "VOID" in page and "Taken by mistake: signed twice" in page and "Ada Admin" in page
    admin.post("/staff/search", {"name": demo_data["patient"]["legal_name"]})
    assert '<span class="badge void">VOID</span>' in admin.client.get("/staff/").text
    (event,) = events(archive, "consent voided")
    assert event.target == consent_id and event.staff_id == consent.voided_by
    assert "Taken by mistake" not in event.user_agent  # the reason stays on the consent

    again = admin.post(url, {"reason": "again"})
    assert again.status_code == 200 and "void already" in again.text
    assert len(events(archive, "consent voided")) == 1


def test_voiding_is_for_admins_only(app, archive, demo_data):
    consent_id = add_consent(archive, demo_data, seal=False)
    make_staff(archive, "clinician")
    clinician = StaffActions(plain_browser(app))
    clinician.login_as("clinician")
    response = clinician.post(f"/staff/consents/{consent_id}/void", {"reason": "forged"})
    assert response.status_code == 403 and archive.get(consent_id).voided_at is None


def test_intake_archive_void(archive, intake, demo_data):
    consent_id = add_consent(archive, demo_data)
    before = pdf_sha256(archive, consent_id)
    result = intake("archive", "void", consent_id, "--reason", "Not signed by this patient")
    assert result.exit_code == 0, result.output
    assert result.output == f"voided consent {consent_id}\n"
    consent = archive.get(consent_id)
    assert consent.void_reason == "Not signed by this patient" and consent.voided_by is None
    assert pdf_sha256(archive, consent_id) == before
    (event,) = events(archive, "consent voided")
    assert event.target == consent_id and event.user_agent == "intake command line"

    again = intake("archive", "void", consent_id, "--reason", "twice")
    assert again.exit_code == 2 and again.output == (
        f"error: {consent_id}: This consent is void already.\n"
    )
    empty = intake("archive", "void", consent_id, "--reason", " ")
    assert empty.exit_code == 2 and empty.output == f"error: reason: {NO_REASON}\n"
    unknown = intake("archive", "void", "0" * 32, "--reason", "x")
    assert unknown.exit_code == 2
    assert unknown.output == f"error: {'0' * 32}: no consent in the archive has this id\n"
    assert "Traceback" not in unknown.output + empty.output
