"""The one-time setup link: the first admin makes their own account, and the link dies."""

from __future__ import annotations

from sqlalchemy import select

from intake.archive.accounts import Accounts
from intake.archive.audit import CLI, Actor
from intake.archive.models import AuditEvent
from intake.archive.setup import SETUP_PATH, has_staff, issue_setup_token, setup_token_holds
from tests.support.devices import plain_browser
from tests.support.tablet import csrf_token

ADMIN = {"name": "Ana Ruiz", "email": "ana@clinic.example", "password": "a long passphrase"}


def events(archive) -> list[str]:
    with archive.sessions() as session:
        return list(session.scalars(select(AuditEvent.event).order_by(AuditEvent.seq)))


def post(client, url: str, fields: dict[str, str]):
    page = client.get(url)
    assert page.status_code == 200, page.status_code
    return client.post(url, data={"csrf_token": csrf_token(page.text), **fields})


def test_a_setup_link_makes_the_first_admin_once(app, archive):
    client = plain_browser(app)  # a newcomer's browser, not yet one of the clinic's tablets
    token = issue_setup_token(archive, CLI)
    earlier = issue_setup_token(archive, CLI)
    assert token and earlier and token != earlier
    url = SETUP_PATH + token
    page = client.get(url)
    assert page.status_code == 200
    assert "Make the first admin account" in page.text

    response = post(client, url, ADMIN)
    assert response.status_code == 302 and response.headers["Location"] == "/staff/login"
    assert "Your admin account is ready" in client.get("/staff/login").text
    admin = Accounts(archive).by_email(ADMIN["email"])
    assert admin is not None and admin.role == "admin" and admin.name == ADMIN["name"]
    assert events(archive) == [
        "setup link issued",
        "setup link issued",
        "setup link used",
        "staff created",
        "tablet enrolled",
    ]

    # Used, and the other link too: an account exists now.
    for spent in (token, earlier):
        assert not setup_token_holds(archive, spent)
        response = client.get(SETUP_PATH + spent)
        assert response.status_code == 302 and response.headers["Location"] == "/staff/login"
    assert "This setup link has been used" in client.get("/staff/login").text
    assert issue_setup_token(archive, CLI) is None
    assert len(Accounts(archive).all()) == 1


def test_a_post_with_a_spent_link_makes_no_account(archive, client):
    token = issue_setup_token(archive, CLI)
    url = SETUP_PATH + token
    page = client.get(url)
    Accounts(archive).create(actor=CLI, role="admin", **ADMIN)
    response = client.post(
        url, data={"csrf_token": csrf_token(page.text), **ADMIN, "email": "eve@x.example"}
    )
    assert response.status_code == 302 and response.headers["Location"] == "/staff/login"
    assert Accounts(archive).by_email("eve@x.example") is None


def test_bad_fields_are_named_and_the_rest_kept(archive, client):
    token = issue_setup_token(archive, CLI)
    response = post(client, SETUP_PATH + token, {**ADMIN, "password": "short"})
    assert response.status_code == 422
    assert "at least 12 characters" in response.text
    assert 'value="Ana Ruiz"' in response.text and 'value="ana@clinic.example"' in response.text
    assert not has_staff(archive)
    assert setup_token_holds(archive, token), "a refused form leaves the link working"


def test_an_unknown_link_leads_to_the_login(archive, client):
    issue_setup_token(archive, CLI)
    for token in ("x", "A" * 43, "../../etc"):
        response = client.get(SETUP_PATH + token)
        assert response.status_code in (302, 404)
        assert response.status_code == 404 or response.headers["Location"] == "/staff/login"
    assert not has_staff(archive)


def test_the_login_page_says_where_the_link_is_until_an_account_exists(archive, client):
    page = client.get("/staff/login").text
    assert "No staff account exists yet" in page
    assert "intake staff create --email" in page and "--role admin" in page
    Accounts(archive).create(actor=Actor(), role="admin", **ADMIN)
    assert "No staff account exists yet" not in client.get("/staff/login").text
