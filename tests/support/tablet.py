"""The tablet flow through Flask's test client: CSRF tokens, each step's fields, and a walk."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.support.app import B12


def csrf_token(html: str) -> str:
    """The CSRF token of the first form on a page, as a browser would send it."""
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def step_fields(data: dict[str, Any]) -> dict[str, dict[str, str]]:
    """A submission (the documented JSON format) as the tablet's form fields, step by step."""
    p = data["patient"]
    ec = p["emergency_contact"]
    sign = {
        "typed_name": data["signature"]["typed_name"],
        "signature": json.dumps({k: v for k, v in data["signature"].items() if k != "typed_name"}),
    }
    if data.get("guardian"):
        g = data["guardian"]
        sign |= {
            "guardian_name": g["name"],
            "guardian_relationship": g["relationship"],
            "guardian_signature": json.dumps(g["signature"]),
        }
    yes_no = {True: "yes", False: "no"}
    return {
        "details": {
            **{k: p.get(k, "") for k in ("legal_name", "preferred_name", "date_of_birth")},
            **{k: p.get(k, "") for k in ("phone", "email", "address", "primary_physician")},
            "ec_name": ec["name"],
            "ec_phone": ec["phone"],
            "ec_relationship": ec["relationship"],
        },
        "health": {
            **data["health"],
            **{f"q_{qid}": yes_no[answer] for qid, answer in data["screening"].items()},
        },
        "consent": {f"a_{aid}": "y" for aid, ticked in data["acknowledgments"].items() if ticked},
        "sign": sign,
    }


class TabletActions:
    """Walks the tablet flow through the test client, reading each page's CSRF token."""

    def __init__(self, client) -> None:
        self.client = client

    def post(self, path: str, fields: dict[str, str], **kwargs: Any):
        page = self.client.get(path)
        fields = {"csrf_token": csrf_token(page.text), **fields}
        return self.client.post(path, data=fields, **kwargs)

    def start(self, form_id: str = B12):
        return self.post(f"/tablet/form/{form_id}", {})

    def fill(self, data: dict[str, Any], until: str = "review"):
        """Start, then fill each step from `data` up to (not including) `until`."""
        response = self.start()
        for step, fields in step_fields(data).items():
            if step == until:
                break
            response = self.post(f"/tablet/{step}", fields)
            assert response.status_code == 302, (step, response.text)
        return response

    def wipe(self, page: str = "/tablet/details"):
        """Tap "Start over" on `page`."""
        token = csrf_token(self.client.get(page).text)
        return self.client.post("/tablet/wipe", data={"csrf_token": token})

    def submit(self, **kwargs: Any):
        page = self.client.get("/tablet/review")
        token = re.search(r'name="submit_token" type="hidden" value="([^"]+)"', page.text)
        assert token, page.text
        fields = {"csrf_token": csrf_token(page.text), "submit_token": token.group(1)}
        return self.client.post("/tablet/submit", data=fields, **kwargs)
