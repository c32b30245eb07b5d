"""Headers every response carries, and the request size limit."""

from __future__ import annotations

from tests.support.app import B12


def test_pages_allow_only_the_apps_own_scripts_and_no_framing(client):
    for path in ("/tablet/", f"/tablet/form/{B12}", "/staff/login", f"/consent/{B12}"):
        response = client.get(path)
        assert response.status_code == 200, path
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy
        assert "frame-ancestors 'none'" in policy
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["Cache-Control"] == "no-store"
        assert "Strict-Transport-Security" not in response.headers


def test_no_template_has_inline_script_or_handlers():
    from intake.config import PROJECT_ROOT

    for template in (PROJECT_ROOT / "templates").rglob("*.html"):
        html = template.read_text(encoding="utf-8")
        for script in html.split("<script")[1:]:
            assert script.lstrip().startswith("src="), template
        assert " onclick=" not in html and " onload=" not in html and " style=" not in html


def test_https_responses_carry_hsts(client):
    response = client.get("/tablet/", base_url="https://clinic.example")
    assert "max-age=" in response.headers["Strict-Transport-Security"]


def test_an_oversized_body_is_refused_with_413(app, client):
    response = client.post(
        f"/tablet/form/{B12}", data={"x": "a" * (app.config["MAX_CONTENT_LENGTH"] + 1)}
    )
    assert response.status_code == 413


def test_the_session_cookie_is_httponly_and_samesite(app, tablet):
    tablet.start()
    cookie = tablet.client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie.http_only and cookie.same_site == "Lax"
