"""Test browsers that are enrolled tablets: enrolled through the tablets service, as the
staff page's code would, and given the device cookie the enrolment page sets.

`new_app` makes every `app.test_client()` an `EnrolledClient`; `plain_browser(app)` is a
browser that is not one of the clinic's tablets. Gunicorn-served tablets (`TabletClient`) take
the token `enrolled_token(settings)` returns.
"""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from intake.archive.audit import Actor
from intake.archive.service import Archive
from intake.archive.tablets import Tablets
from intake.tablet.devices import COOKIE, SECURE_COOKIE

HELPER = Actor(user_agent="test helper")


def enrol(archive: Archive, name: str = "Test tablet") -> str:
    """A newly enrolled tablet's token (its cookie's value)."""
    return Tablets(archive).enrol_directly(name, HELPER, enrolled_by=None).token


def give_cookie(client: FlaskClient, token: str) -> None:
    """The device cookie, under both names (plain HTTP and, for HTTPS requests, `__Host-`)."""
    client.set_cookie(COOKIE, token)
    client.set_cookie(SECURE_COOKIE, token, secure=True)


class EnrolledClient(FlaskClient):
    """A test browser that is one of the clinic's enrolled tablets from its first request."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tablet_token = enrol(self.application.extensions["archive"])
        give_cookie(self, self.tablet_token)


def plain_browser(app: Any) -> FlaskClient:
    """A browser that is not an enrolled tablet (and no staff member handed it over)."""
    return FlaskClient(app, app.response_class, use_cookies=True)
