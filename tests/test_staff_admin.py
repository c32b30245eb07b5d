"""Admin pages: staff accounts, retention (deleting consents past it), and the audit trail."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text, update

from intake.archive.errors import ConsentMissing
from intake.archive.models import AuditEvent
from tests.support.app import on_both_databases
from tests.support.staff import (
    EMAILS,
    NAMES,
    PASSWORD,
    StaffActions,
    add_consent,
    events,
    make_staff,
    patient,
    staff_row,
)

pytestmark = pytest.mark.usefixtures("fast_passwords")
app_config = pytest.fixture(on_both_databases, name="app_config")

NEW = {
    "name": "Nina  Nurse",
    "email": "Nina@Clinic.example",
    "role": "clinician",
    "password": "a long initial password",
}
#: Signed in January 2010 by an adult: past the ten years' retention.
LONG_AGO = {"born": "1970-05-06", "signed_at": "2010-01-05T10:00:00-06:00"}


def someone(app, archive, role: str = "front-desk") -> StaffActions:
    """Another staff member, logged in in a browser of their own."""
    make_staff(archive, role)
    actions = StaffActions(app.test_client())
    actions.login_as(role)
    return actions


# --- accounts --------------------------------------------------------------------------------


def test_an_admin_adds_a_staff_member_who_can_then_log_in(app, archive, admin):
    page = admin.client.get("/staff/accounts/new")
    assert page.status_code == 200 and 'type="password"' in page.text
    response = admin.post("/staff/accounts/new", NEW)
    assert response.status_code == 302
    nina = staff_row(archive, "nina@clinic.example")
    assert response.headers["Location"] == f"/staff/accounts/{nina.id}"
    assert (nina.name, nina.role, nina.active) == ("Nina Nurse", "clinician", True)
    listing = admin.client.get("/staff/accounts").text
    assert "Nina Nurse" in listing and "nina@clinic.example" in listing
    assert NEW["password"] not in listing
    assert [e.target for e in events(archive, "staff created")][-1] == nina.id
    nina_browser = StaffActions(app.test_client())
    assert nina_browser.login("nina@clinic.example", NEW["password"]).status_code == 302


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (
            {"email": EMAILS["admin"].upper()},
            "email",
            "Email already has an account (one account per person)",
        ),
        ({"email": "not an email"}, "email", "Email is not an email address"),
        ({"name": "  "}, "name", "Name is required (at most 200 characters)"),
        ({"password": "too short"}, "password", "Initial password must be at least 12 characters"),
        ({"role": "owner"}, "role", "Not a valid choice."),
    ],
)
def test_a_bad_new_account_is_named_at_its_field(archive, admin, change, field, message):
    response = admin.post("/staff/accounts/new", {**NEW, **change})
    assert response.status_code == 422
    error = re.search(rf'<p class="error" id="{field}-error">([^<]*)</p>', response.text)
    assert error and message in error.group(1).replace("&#39;", "'")
    kept = {key: value for key, value in {**NEW, **change}.items() if key in ("name", "email")}
    for key, value in kept.items():
        if value.strip():
            assert f'value="{value}"' in response.text, key
    assert NEW["password"] not in response.text
    assert events(archive, "staff created")[1:] == []


def test_a_new_role_ends_the_members_logins_and_takes_effect(app, archive, admin):
    frank = someone(app, archive)
    frank_id = staff_row(archive, EMAILS["front-desk"]).id
    page = admin.client.get(f"/staff/accounts/{frank_id}").text
    assert NAMES["front-desk"] in page and '<option selected value="front-desk">' in page
    response = admin.post(f"/staff/accounts/{frank_id}/role", {"role": "clinician"})
    assert response.status_code == 302
    assert frank.client.get("/staff/").status_code == 302, "his open login ended"
    frank.login_as("front-desk")
    assert "Flagged, not yet reviewed" in frank.client.get("/staff/").text
    assert staff_row(archive, EMAILS["front-desk"]).role == "clinician"
    assert [e.target for e in events(archive, "staff changed")] == [frank_id]


def test_switching_an_account_off_and_on(app, archive, admin):
    frank = someone(app, archive)
    frank_id = staff_row(archive, EMAILS["front-desk"]).id
    assert admin.post(f"/staff/accounts/{frank_id}/active", {"state": "off"}).status_code == 302
    assert frank.client.get("/staff/").status_code == 302
    assert frank.login(EMAILS["front-desk"]).status_code == 422
    assert "Switched off" in admin.client.get("/staff/accounts").text
    assert admin.post(f"/staff/accounts/{frank_id}/active", {"state": "on"}).status_code == 302
    assert frank.login(EMAILS["front-desk"]).status_code == 302


def test_a_new_password_replaces_the_old(app, archive, admin):
    frank = someone(app, archive)
    frank_id = staff_row(archive, EMAILS["front-desk"]).id
    short = admin.post(f"/staff/accounts/{frank_id}/password", {"password": "short"})
    assert short.status_code == 422
    assert "New password must be at least 12 characters" in short.text
    response = admin.post(f"/staff/accounts/{frank_id}/password", {"password": "a brand new one!"})
    assert response.status_code == 302
    assert frank.client.get("/staff/").status_code == 302
    assert frank.login(EMAILS["front-desk"], PASSWORD).status_code == 422
    assert frank.login(EMAILS["front-desk"], "a brand new one!").status_code == 302


def test_an_admin_cannot_lock_themselves_out(archive, admin):
    own = staff_row(archive, EMAILS["admin"]).id
    for path, fields in (("role", {"role": "front-desk"}), ("active", {"state": "off"})):
        response = admin.post(f"/staff/accounts/{own}/{path}", fields)
        assert response.status_code == 422 and "Ask another admin." in response.text
    me = staff_row(archive, EMAILS["admin"])
    assert (me.role, me.active) == ("admin", True)
    assert admin.client.get("/staff/accounts").status_code == 200


def test_an_admin_changes_their_own_password_under_my_account_only(archive, admin):
    """Setting one's own password needs the current one (My account), even for an admin."""
    own = staff_row(archive, EMAILS["admin"]).id
    response = admin.post(f"/staff/accounts/{own}/password", {"password": "my next password"})
    assert response.status_code == 422 and "under My account" in response.text
    response = admin.post(
        "/staff/me/password",
        {
            "current_password": PASSWORD,
            "password": "my next password",
            "confirm": "my next password",
        },
    )
    assert response.status_code == 302 and response.headers["Location"] == "/staff/login"
    assert "Log in with the new one." in admin.client.get("/staff/login").text
    assert admin.login(EMAILS["admin"], "my next password").status_code == 302


def test_an_unknown_account_is_404(admin):
    assert admin.client.get("/staff/accounts/" + "0" * 32).status_code == 404
    assert admin.post("/staff/accounts/nope/role", {"role": "admin"}).status_code == 404


# --- retention -------------------------------------------------------------------------------


def test_a_consent_past_retention_is_listed_deleted_and_logged(archive, admin, demo_data):
    old = add_consent(archive, patient(demo_data, "Olga Old", **LONG_AGO))
    recent = add_consent(archive, demo_data, seal=False)
    page = admin.client.get("/staff/retention").text
    assert "Olga Old" in page and "Jan 5, 2010" in page and "Jan 5, 2020" in page
    assert "O&#39;Brien" not in page
    confirm = admin.client.get(f"/staff/retention/{old}")
    assert confirm.status_code == 200 and "Delete this consent?" in confirm.text
    assert archive.get(old), "asking first deletes nothing"
    response = admin.post(f"/staff/retention/{old}")
    assert response.status_code == 302 and response.headers["Location"] == "/staff/retention"
    assert "The consent was deleted" in admin.client.get("/staff/retention").text
    with pytest.raises(ConsentMissing):
        archive.get(old)
    assert admin.client.get(f"/staff/consents/{old}").status_code == 404
    assert admin.client.get(f"/staff/retention/{old}").status_code == 404
    assert "Olga Old" not in admin.client.get("/staff/").text
    assert [e.target for e in events(archive, "consent deleted")] == [old]
    assert archive.get(recent)


def test_a_consent_still_kept_cannot_be_deleted(archive, admin, demo_data):
    recent = add_consent(archive, demo_data, seal=False)
    response = admin.post(f"/staff/retention/{recent}")
    assert response.status_code == 409
    assert "This consent must be kept until Nov 29, 2036." in response.text
    assert archive.get(recent) and events(archive, "consent deleted") == []


def test_nothing_past_retention(admin):
    assert "No consent is past its retention." in admin.client.get("/staff/retention").text


# --- the audit trail -------------------------------------------------------------------------


def test_the_audit_trail_names_staff_and_holds(app, archive, admin, demo_data):
    consent_id = add_consent(archive, demo_data)
    clara = someone(app, archive, "clinician")
    clara.client.get(f"/staff/consents/{consent_id}")
    clara.client.get(f"/staff/consents/{consent_id}/download")
    clara.post(f"/staff/consents/{consent_id}/review", {"note": "Fine."})
    clara.logout()
    page = admin.client.get("/staff/audit").text
    assert "The trail holds" in page
    rows = re.findall(r"<tr>\s*<td data-label=\"#\">(\d+)</td>.*?</tr>", page, re.S)
    assert [int(seq) for seq in rows] == sorted((int(seq) for seq in rows), reverse=True)
    for event in (
        "login",
        "consent viewed",
        "consent downloaded",
        "consent reviewed",
        "logout",
        "staff created",
        "consent created",
        "consent archived",
    ):
        assert f'<td data-label="What">{event}</td>' in page, event
    assert NAMES["clinician"] in page and NAMES["admin"] in page
    assert "O&#39;Brien" not in page and "Zoë" not in page


def test_the_audit_trail_goes_50_at_a_time(archive, admin, demo_data):
    for i in range(55):
        add_consent(
            archive,
            patient(demo_data, f"Patient {chr(65 + i // 26)}{chr(65 + i % 26)}"),
            seal=False,
        )
    first = admin.client.get("/staff/audit").text
    seqs = [int(s) for s in re.findall(r'<td data-label="#">(\d+)</td>', first)]
    assert len(seqs) == 50
    older = re.search(r'href="/staff/audit\?before=(\d+)">Older</a>', first)
    assert older and int(older.group(1)) == seqs[-1]
    second = admin.client.get(f"/staff/audit?before={older.group(1)}").text
    rest = [int(s) for s in re.findall(r'<td data-label="#">(\d+)</td>', second)]
    assert rest == list(range(seqs[-1] - 1, 0, -1))


@pytest.mark.parametrize("before", ["99999999999999999999999", str(2**31), "-5", "0", "x"])
def test_a_before_bound_the_database_cannot_hold_shows_the_newest_page(archive, admin, before):
    newest = admin.client.get("/staff/audit").text
    page = admin.client.get(f"/staff/audit?before={before}")
    assert page.status_code == 200
    seqs = re.findall(r'<td data-label="#">(\d+)</td>', page.text)
    assert seqs and seqs == re.findall(r'<td data-label="#">(\d+)</td>', newest)


def test_a_changed_audit_row_breaks_the_trail_on_the_page(archive, admin):
    with archive.transaction() as db:
        # What someone with write access to the database could do: switch the guard off.
        if archive.engine.dialect.name == "sqlite":
            db.execute(text("DROP TRIGGER audit_events_no_update"))
        else:
            db.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
        db.execute(update(AuditEvent).where(AuditEvent.seq == 1).values(ip="10.9.9.9"))
    page = admin.client.get("/staff/audit").text
    assert "The trail is BROKEN at row 1" in page and "row 1 was changed" in page
