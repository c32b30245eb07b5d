"""The read-only consent page and the health check."""

from __future__ import annotations

import shutil
from pathlib import Path

from flask.testing import FlaskClient
from markupsafe import escape

from intake.config import PROJECT_ROOT
from intake.definition import ConsentDefinition
from tests.support.app import app_settings, new_app

FORMS_DIR = PROJECT_ROOT / "forms"
B12 = "b12-methylcobalamin"


def test_healthz(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_consent_page_shows_the_whole_text(
    client: FlaskClient, definition: ConsentDefinition
) -> None:
    response = client.get(f"/consent/{B12}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    benefits = next(s for s in definition.sections if s.id == "benefits").items
    side_effects = [item for tier in definition.side_effects for item in tier.items]
    assert len(benefits) == 5
    assert len(side_effects) == 12
    for text in [*benefits, *side_effects, definition.clinic_name, definition.title]:
        assert f">{escape(text)}<" in page, text
    for tier in definition.side_effects:
        assert str(escape(tier.action)) in page
    for ack in definition.acknowledgments:
        assert str(escape(ack.text)) in page
    assert f"Form version {definition.version}" in page


def test_unknown_form_is_404(client: FlaskClient) -> None:
    assert client.get("/consent/botox").status_code == 404
    assert client.get("/consent/..%2Fforms%2Fversions").status_code == 404


def test_text_from_the_definition_is_escaped(tmp_path: Path) -> None:
    forms = Path(shutil.copytree(FORMS_DIR, tmp_path / "forms"))
    toml = forms / f"{B12}.toml"
    text = toml.read_text(encoding="utf-8")
    text = text.replace(
        'heading = "What is vitamin B12?"', 'heading = "<script>alert(1)</script>"'
    ).replace('"mild diarrhea"', '"<b>mild</b> diarrhea"')
    toml.write_text(text, encoding="utf-8")
    app = new_app(app_settings(tmp_path, FORMS_DIR=forms))

    response = app.test_client().get(f"/consent/{B12}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<script>alert" not in page
    assert "<b>mild" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;mild&lt;/b&gt; diarrhea" in page


def test_the_root_leads_into_the_tablet_flow(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/tablet/")
    assert client.get("/", follow_redirects=True).status_code == 200
