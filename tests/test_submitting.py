"""A tablet's submit (`intake.archive.submitting.submit_consent`): two commits, the copy link
in the first, and the PDF the same bytes as one made from the stored row."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import event, func, select

from intake.archive.audit import Actor
from intake.archive.models import ARCHIVED, Consent, PatientCopy
from intake.archive.service import Archive
from intake.archive.staff import token_sha256
from intake.archive.submitting import submit_consent
from intake.archive.tablets import Tablets
from intake.definition import FormCatalog
from intake.pdf import render_consent
from intake.submission import validate_submission
from tests.support.app import on_both_databases
from tests.support.staff import events

app_config = pytest.fixture(on_both_databases, name="app_config")

TTL = 600.0


def commits_of(archive: Archive) -> list[str]:
    """A list that grows by one at every commit on the archive's engine."""
    seen: list[str] = []
    event.listen(archive.engine, "commit", lambda _connection: seen.append("commit"))
    return seen


def copy_rows(archive: Archive, consent_id: str) -> dict[str, str]:
    with archive.sessions() as session:
        rows = session.scalars(select(PatientCopy).where(PatientCopy.consent_id == consent_id))
        return {row.token_sha256: row.code for row in rows}


def test_a_submit_commits_twice_with_its_copy_link_and_renders_what_the_row_renders(
    archive: Archive, catalog: FormCatalog, demo_data: dict[str, Any]
):
    tablet = Tablets(archive).enrol_directly("Front desk 2", Actor(), enrolled_by=None).tablet
    actor = Actor(user_agent="tablet", tablet_id=tablet.id)
    submission = validate_submission(demo_data, catalog)
    commits = commits_of(archive)

    done = submit_consent(archive, submission, actor, key="k" * 64, copy_ttl=TTL)

    assert commits == ["commit", "commit"]  # the pending row with its link, the archived one
    consent = archive.get(done.consent_id)
    assert consent.status == ARCHIVED
    assert copy_rows(archive, done.consent_id) == {token_sha256(done.copy_token): done.copy_code}
    for name in ("consent created", "consent archived"):
        assert [e.target for e in events(archive, name)] == [done.consent_id]
    # What the submit rendered from the submission it held is what the row renders to.
    stored = validate_submission(json.loads(consent.submission_json or ""), catalog)
    assert stored == submission
    definition = catalog.get(consent.form_id, consent.language)
    made = {
        render_consent(
            definition,
            given,
            settings=archive.settings.render,
            document_id=consent.id,
            seal=archive.signer().certificate,
            tablet=archive._tablet_name(consent.device_id),
            created=datetime(2026, 12, 1, 9, 30, tzinfo=UTC),
        )
        for given in (submission, stored)
    }
    assert len(made) == 1
    # The tablet's name, read in the pending row's transaction, is on the Signing record.
    text = "".join(
        page.extract_text() for page in PdfReader(io.BytesIO(archive.pdf(consent.id))).pages
    )
    assert "Front desk 2" in text


def test_the_same_submit_again_finds_its_consent_and_offers_a_new_link(
    archive: Archive, catalog: FormCatalog, demo_data: dict[str, Any]
):
    submission = validate_submission(demo_data, catalog)
    first = submit_consent(archive, submission, Actor(), key="a" * 64, copy_ttl=TTL)
    again = submit_consent(archive, submission, Actor(), key="a" * 64, copy_ttl=TTL)

    assert again.consent_id == first.consent_id
    assert again.copy_token != first.copy_token
    assert copy_rows(archive, first.consent_id) == {
        token_sha256(first.copy_token): first.copy_code,
        token_sha256(again.copy_token): again.copy_code,
    }
    with archive.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Consent)) == 1
    assert len(events(archive, "consent created")) == 1
    assert len(events(archive, "consent archived")) == 1
