"""Static files by fingerprinted URL, kept a year by the browser; pages never kept; an icon."""

from __future__ import annotations

import hashlib
import io
import re

from PIL import Image

from intake.config import PACKAGE_ROOT
from tests.support.app import B12

STATIC = PACKAGE_ROOT / "static"


def test_every_static_url_carries_its_files_fingerprint(client):
    page = client.get(f"/tablet/form/{B12}")
    assert page.headers["Cache-Control"] == "no-store"
    urls = re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text)
    assert {"/static/intake.css", "/static/tablet.css", "/static/tablet.js"} <= {
        u.split("?")[0] for u in urls
    }
    for url in urls:
        path, version = re.fullmatch(r"/static/([^?]+)\?v=([0-9a-f]{16})", url).groups()
        assert version == hashlib.sha256((STATIC / path).read_bytes()).hexdigest()[:16]
        response = client.get(url)
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"


def test_a_static_file_by_an_old_fingerprint_is_not_kept_long(client):
    for url in ("/static/tablet.js?v=0000000000000000", "/static/tablet.js"):
        response = client.get(url)
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "public, max-age=86400", url


def test_pages_stay_no_store(client, tablet, demo_data):
    tablet.fill(demo_data)
    for path in ("/tablet/details", "/tablet/review", f"/consent/{B12}", "/staff/login"):
        assert client.get(path).headers["Cache-Control"] == "no-store", path


def test_favicon_is_an_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.mimetype == "image/x-icon"
    icon = Image.open(io.BytesIO(response.data))
    assert icon.format == "ICO" and icon.size[0] >= 16
    assert 'rel="icon" href="/static/favicon.ico?v=' in client.get(f"/tablet/form/{B12}").text
