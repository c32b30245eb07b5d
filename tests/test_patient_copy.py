"""The patient's copy goes to the patient's own phone: the thank-you screen shows a QR code of
a one-time link and the code the copy opens with; nothing can be downloaded on the tablet."""

from __future__ import annotations

import io
import re
import time

import pytest
from pypdf import PdfReader
from pypdf.errors import PyPdfError

from intake.archive.copies import CODE_ALPHABET
from intake.certificates import kept_certificates
from intake.pdf.seal import check_seal, document_id
from intake.qr import qr_data_uri
from intake.tablet.drafts import FileDrafts
from tests.support.app import on_both_databases
from tests.support.devices import plain_browser
from tests.support.staff import events, session_of

app_config = pytest.fixture(on_both_databases, name="app_config")

CODE = re.compile(rf"<code>([{CODE_ALPHABET}]{{4}}-[{CODE_ALPHABET}]{{4}})</code>")


def the_link(app, client) -> tuple[str, str]:
    """The copy's token and code, as the thank-you screen holds them."""
    drafts = FileDrafts(app.config["DRAFTS_DIR"], app.config["DRAFT_TTL_SECONDS"])
    draft = drafts.get(session_of(app, client)["draft_id"])
    assert draft is not None and draft.copy_token and draft.copy_code
    return draft.copy_token, draft.copy_code


def test_the_phone_opens_the_copy_once_with_its_code(app, archive, client, tablet, demo_data):
    tablet.fill(demo_data)
    tablet.submit()
    page = client.get("/tablet/done").text
    token, code = the_link(app, client)
    # The QR code is exactly the link, absolute, for a phone that scans it.
    with app.test_request_context():
        assert f'src="{qr_data_uri(f"http://localhost/copy/{token}")}"' in page
    assert CODE.search(page)[1] == code
    # Nothing on the tablet to download, and the token only inside the QR code.
    assert not re.search(r"<a [^>]*(download|\.pdf|/copy/)", page)
    assert "/copy/" not in page and token not in page

    phone = plain_browser(app)  # the patient's phone: no tablet, no session
    response = phone.get(f"/copy/{token}")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert "O'Brien" not in response.headers["Content-Disposition"]
    pdf = response.data
    reader = PdfReader(io.BytesIO(pdf))
    assert reader.is_encrypted
    with pytest.raises((PyPdfError, ValueError)):
        reader.pages[0].extract_text()  # without the code it opens nothing
    assert reader.decrypt(code)
    text = "".join(p.extract_text() for p in reader.pages)
    assert "O'Brien" in text or "O’Brien" in text
    report = check_seal(pdf, kept_certificates(archive.settings.certificates_dir), password=code)
    assert report.holds, report.problems
    consent_id = events(archive, "consent created")[0].target
    assert document_id(pdf, report, code) == consent_id
    assert [e.target for e in events(archive, "consent downloaded")] == [consent_id]

    assert phone.get(f"/copy/{token}").status_code == 410
    assert client.get(f"/copy/{token}").status_code == 410


def test_an_expired_link_is_gone_and_not_offered(app, client, tablet, demo_data):
    app.config["PATIENT_COPY_TTL_SECONDS"] = 0
    tablet.fill(demo_data)
    tablet.submit()
    time.sleep(0.01)
    page = client.get("/tablet/done").text
    assert "phone-copy" not in page and "Ask the front desk" in page
    token, _ = the_link(app, client)
    assert plain_browser(app).get(f"/copy/{token}").status_code == 410


def test_a_made_up_link_is_gone(app):
    phone = plain_browser(app)
    for token in ("x", "A" * 43, "B" * 200):
        assert phone.get(f"/copy/{token}").status_code == 410
