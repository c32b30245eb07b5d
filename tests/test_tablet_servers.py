"""Several app servers, one database (`STORAGE=database`): a patient's steps may land on any
server, because drafts live in the database, and a submit sent to two servers at once still
makes one consent."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import pytest

from intake.archive.models import ARCHIVED, DraftRow
from intake.archive.search import SearchCriteria
from tests.support.app import app_settings, new_app
from tests.support.tablet import TabletActions, step_fields


@pytest.fixture
def servers(tmp_path: Path, database_url: str):
    """Two apps with instance folders of their own and nothing shared but the database."""
    apps = [
        new_app(app_settings(tmp_path / name, DATABASE_URL=database_url, STORAGE="database"))
        for name in ("one", "two")
    ]
    yield apps
    for app in apps:
        app.extensions["archive"].dispose()


class Roaming(TabletActions):
    """A tablet whose every request goes to the next server in turn, carrying its cookie."""

    def __init__(self, apps: list[Any]) -> None:
        self.clients = [app.test_client() for app in apps]
        self.cookie_name = apps[0].config["SESSION_COOKIE_NAME"]
        self.turn = 0

    @property
    def client(self):  # type: ignore[override]
        current = self.clients[self.turn % len(self.clients)]
        before = self.clients[(self.turn - 1) % len(self.clients)]
        cookie = before.get_cookie(self.cookie_name)
        if cookie is not None:
            current.set_cookie(self.cookie_name, cookie.value)
        self.turn += 1
        return current


def test_steps_alternate_between_servers_and_make_one_consent(servers, demo_data):
    tablet = Roaming(servers)
    tablet.fill(demo_data)
    response = tablet.submit()
    assert response.headers["Location"] == "/tablet/done"
    assert "hand the tablet back" in tablet.client.get("/tablet/done").text
    for app in servers:
        assert not (Path(app.instance_path) / "drafts").exists()
    archive = servers[1].extensions["archive"]
    (consent,) = archive.search(SearchCriteria()).consents
    assert archive.get(consent.id).status == ARCHIVED
    with archive.sessions() as session:
        (row,) = session.query(DraftRow).all()
    assert "Zo\u00eb" not in row.body, "the submitted draft keeps no answers"


def test_a_submit_sent_to_both_servers_at_once_makes_one_consent(servers, demo_data):
    tablet = Roaming(servers)
    tablet.fill(demo_data)
    page = tablet.client.get("/tablet/review").text
    token = re.search(r'name="submit_token" type="hidden" value="([^"]+)"', page)[1]
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)[1]
    cookie = tablet.clients[(tablet.turn - 1) % 2].get_cookie(tablet.cookie_name).value
    places = []

    def tap(app) -> None:
        client = app.test_client()
        client.set_cookie(tablet.cookie_name, cookie)
        response = client.post("/tablet/submit", data={"csrf_token": csrf, "submit_token": token})
        places.append(response.headers["Location"])

    taps = [threading.Thread(target=tap, args=(servers[i % 2],)) for i in range(4)]
    for t in taps:
        t.start()
    for t in taps:
        t.join()
    assert places == ["/tablet/done"] * 4
    archive = servers[0].extensions["archive"]
    assert len(archive.search(SearchCriteria()).consents) == 1


def test_a_draft_made_on_one_server_can_be_wiped_on_the_other(servers, demo_data):
    tablet = Roaming(servers)
    tablet.start()
    tablet.post("/tablet/details", step_fields(demo_data)["details"])
    tablet.wipe()
    with servers[0].extensions["archive"].sessions() as session:
        assert session.query(DraftRow).count() == 0
