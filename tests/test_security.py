"""Security of the running app: CSRF on every post, trusted hosts, HTTPS behind a proxy, and no
patient data or password in any log line or cookie."""

from __future__ import annotations

import base64
import json
import logging
import re
import secrets
import subprocess
import sys
import zlib
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from intake.archive import staff as staff_accounts
from intake.archive.search import SearchCriteria
from intake.archive.service import submission_of
from intake.config import Config
from tests.support.app import B12, app_settings, new_app
from tests.support.staff import FAST_HASHER, PASSWORD, StaffActions, make_staff, patient
from tests.support.tablet import TabletActions, csrf_token


@pytest.fixture(autouse=True)
def fast_hasher(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(staff_accounts, "hasher", FAST_HASHER)


def sample_url(rule) -> str:
    """The rule's path with made-up values for its parts."""
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: "a" * 32 if "id" in m[1] else B12, rule.rule)


def test_every_post_is_refused_without_a_csrf_token(app, client, tablet):
    tablet.start()  # a live draft, so tablet posts reach the check with a session
    posts = [r for r in app.url_map.iter_rules() if "POST" in (r.methods or ())]
    assert len(posts) >= 10
    for rule in posts:
        response = client.post(sample_url(rule), data={"legal_name": "x"})
        assert response.status_code == 400, rule.rule
        assert "expired" in response.text, rule.rule


def test_only_trusted_hosts_are_answered(tmp_path: Path):
    app = new_app(app_settings(tmp_path, TRUSTED_HOSTS=["consent.clinic.example"]))
    try:
        client = app.test_client()
        assert client.get("/healthz", base_url="http://consent.clinic.example").status_code == 200
        assert client.get("/healthz", base_url="http://evil.example").status_code == 400
    finally:
        app.extensions["archive"].dispose()


def test_settings_from_the_environment():
    config = Config({"PREFERRED_URL_SCHEME": "https", "TRUSTED_HOSTS": "a.example, b.example"})
    assert config.SESSION_COOKIE_SECURE is True
    assert config.TRUSTED_HOSTS == ["a.example", "b.example"]
    plain = Config({})
    assert plain.SESSION_COOKIE_SECURE is False and plain.TRUSTED_HOSTS is None
    assert plain.PROXY_HOPS == 0


@pytest.fixture
def proxied(tmp_path: Path):
    """The app as it runs behind one TLS proxy."""
    app = new_app(
        app_settings(
            tmp_path, PROXY_HOPS=1, PREFERRED_URL_SCHEME="https", SESSION_COOKIE_SECURE=True
        )
    )
    yield app
    app.extensions["archive"].dispose()


FORWARDED = {"HTTP_X_FORWARDED_PROTO": "https", "HTTP_X_FORWARDED_FOR": "203.0.113.9"}


def test_behind_a_tls_proxy_a_whole_consent_is_signed_over_https(proxied, demo_data):
    client = proxied.test_client()
    client.environ_base.update(FORWARDED)  # what the proxy adds; browsers send no Referer
    tablet = TabletActions(client)
    tablet.fill(demo_data)
    assert tablet.submit().headers["Location"] == "/tablet/done"
    page = client.get("/tablet/done")
    assert "max-age=" in page.headers["Strict-Transport-Security"]
    cookie = client.get_cookie(proxied.config["SESSION_COOKIE_NAME"])
    assert cookie.secure and cookie.http_only
    archive = proxied.extensions["archive"]
    (consent,) = archive.search(SearchCriteria()).consents
    assert submission_of(archive.get(consent.id))["device"]["ip"] == "203.0.113.9"


def test_without_proxy_hops_forwarded_headers_are_not_believed(app, client):
    client.environ_base.update(FORWARDED)
    response = client.get("/tablet/")
    assert "Strict-Transport-Security" not in response.headers
    demo = TabletActions(client)
    assert demo.start().status_code == 302
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert not cookie.secure


def session_payload(value: str) -> str:
    """The JSON inside a Flask session cookie (compressed when it starts with a dot)."""
    data = value.lstrip(".").split(".")[0]
    raw = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
    return (zlib.decompress(raw) if value.startswith(".") else raw).decode()


def test_no_patient_data_in_logs_or_cookies(app, client, archive, demo_data, caplog):
    caplog.set_level(logging.DEBUG)
    name = f"Quillon Vexmartin {secrets.token_hex(3)}"
    surname = name.split()[1]
    data = patient(demo_data, name)
    data["patient"]["email"] = "quillon.unique@example.org"
    cookies: list[str] = []

    inner = app.wsgi_app

    def remember(environ, start_response) -> Any:  # every cookie the app sends, as sent
        def start(status, headers, *exc_info):
            cookies.extend(value for key, value in headers if key.lower() == "set-cookie")
            return start_response(status, headers, *exc_info)

        return inner(environ, start)

    app.wsgi_app = remember
    tablet = TabletActions(client)
    tablet.fill(data)
    tablet.submit()
    client.get("/tablet/done")
    make_staff(archive, "clinician")
    staff = StaffActions(app.test_client())
    staff.login_as("clinician")
    found = staff.search(name=surname)
    assert name in staff.client.get(found.headers["Location"]).text
    (consent,) = archive.search(SearchCriteria()).consents
    for page in (f"/staff/consents/{consent.id}", f"/staff/consents/{consent.id}/download"):
        assert staff.client.get(page).status_code == 200, page

    assert len(cookies) >= 5
    payloads = [session_payload(c.split(";")[0].split("=", 1)[1]) for c in cookies if "=e" in c]
    assert any("draft_id" in p for p in payloads), "the cookies were read"
    logged = caplog.text
    for secret in (surname, "quillon.unique", data["patient"]["phone"], PASSWORD):
        assert secret not in logged
        for cookie in cookies:
            value = cookie.split(";")[0].split("=", 1)[1]
            assert secret not in cookie
            if value.startswith(("ey", ".e")):
                assert secret not in session_payload(value)


def test_passwords_are_never_logged(app, client, archive, intake, caplog):
    caplog.set_level(logging.DEBUG)
    first, second = "plum-orchard-" + secrets.token_hex(4), "fig-harbour-" + secrets.token_hex(4)
    made = intake(
        "staff",
        "create",
        "--email",
        "nia@clinic.example",
        "--name",
        "Nia",
        "--role",
        "admin",
        "--password-stdin",
        input=first + "\n",
    )
    assert made.exit_code == 0, made.output
    changed = intake(
        "staff",
        "set-password",
        "--email",
        "nia@clinic.example",
        "--password-stdin",
        input=second + "\n",
    )
    assert changed.exit_code == 0, changed.output
    for attempt in (first, second):
        page = client.get("/staff/login")
        client.post(
            "/staff/login",
            data={
                "csrf_token": csrf_token(page.text),
                "email": "nia@clinic.example",
                "password": attempt,
            },
        )
    with archive.engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT * FROM audit_events").fetchall()
        accounts = connection.exec_driver_sql("SELECT password_hash FROM staff").fetchall()
    assert rows and accounts
    for password in (first, second):
        assert password not in caplog.text
        assert password not in made.output + changed.output
        assert password not in json.dumps([list(map(str, r)) for r in rows])
        assert all(password not in hash_ for (hash_,) in accounts)


def test_reportlab_is_new_enough_and_trusts_no_host_for_images():
    """reportlab 5.0.1 closed the hole of 5.0.0; no host is trusted even if the environment
    says otherwise, so no `<img>` can make the renderer fetch a URL or a file."""
    assert tuple(int(p) for p in version("reportlab").split(".")[:3]) >= (5, 0, 1)
    code = "import intake.pdf; from reportlab import rl_config; print(rl_config.trustedHosts)"
    env = {"RL_trustedHosts": "localhost,*.example", "PATH": "/usr/bin:/bin"}
    shown = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert shown.stdout.strip() == "None"
