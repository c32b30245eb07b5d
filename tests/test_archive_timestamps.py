"""`intake archive timestamp` on both databases, against the loopback test PKI: consents whose
last timestamp expires soon get a new document timestamp as a new revision (a new blob, the old
one removed once the row names the new), audited; an interrupted run leaves every consent whole
and the next run finishes; `intake verify --archive` takes the newest revision and earlier ones."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from intake.archive import timestamps
from intake.archive.audit import CLI, Actor
from intake.archive.blobs import BlobMissing
from intake.archive.service import Archive
from intake.archive.timestamps import renew_timestamps
from intake.pdf import ltv
from intake.submission import validate_submission
from tests.support.pki import P12_PASSWORD, LoopbackPki, serve_pki
from tests.support.staff import events

TABLET = Actor(ip="192.0.2.7", user_agent="Tablet")


@pytest.fixture
def pki(tmp_path: Path) -> Iterator[LoopbackPki]:
    # The first authority's certificate expires in 20 days; the second's in 20 years.
    with serve_pki(tmp_path / "pki", tsa_days=20) as served:
        yield served


@pytest.fixture
def app_config(app_config, database_url, pki: LoopbackPki):
    """The app on both databases, sealing B-LTA with the PKI's certificate and first TSA."""
    return {
        **app_config,
        "DATABASE_URL": database_url,
        "SIGNING_P12": pki.p12(),
        "SIGNING_P12_PASSWORD": P12_PASSWORD,
        "TSA_URL": pki.tsa_url("tsa"),
    }


def submitted(archive: Archive, catalog, demo_data, count: int = 2) -> list[str]:
    return [archive.submit(validate_submission(demo_data, catalog), TABLET) for _ in range(count)]


def test_due_consents_get_a_new_revision(archive: Archive, catalog, demo_data, pki):
    ids = submitted(archive, catalog, demo_data)
    before = {i: archive.pdf(i) for i in ids}
    old_sha = {i: archive.get(i).pdf_sha256 for i in ids}
    report = renew_timestamps(archive, CLI, tsa_url=pki.tsa_url("tsa2"), within_days=30)
    assert sorted(report.renewed) == sorted(ids) and report.failed == [] and report.read == 2
    for consent_id in ids:
        consent = archive.get(consent_id)
        after = archive.pdf(consent_id)
        assert after.startswith(before[consent_id]) and len(after) == consent.pdf_size
        assert hashlib.sha256(after).hexdigest() == consent.pdf_sha256 != old_sha[consent_id]
        with archive.sessions() as session, pytest.raises(BlobMissing):
            archive.blobs.get(session, old_sha[consent_id])
        assert len(PdfFileReader(io.BytesIO(after)).embedded_timestamp_signatures) == 2
        assert ltv.last_timestamp_expiry(after) > ltv.last_timestamp_expiry(before[consent_id])
    assert sorted(e.target for e in events(archive, "consent timestamped")) == sorted(ids)
    pki.stop()
    for consent_id in ids:
        report = archive.check(archive.pdf(consent_id))
        assert report.problems == [] and report.level == "B-LTA"


def test_nothing_is_due_twice_or_too_early(archive: Archive, catalog, demo_data, pki):
    submitted(archive, catalog, demo_data)
    early = renew_timestamps(archive, CLI, tsa_url=pki.tsa_url("tsa2"), within_days=5)
    assert early.renewed == [] and early.read == 2
    first = renew_timestamps(archive, CLI, tsa_url=pki.tsa_url("tsa2"), within_days=30)
    again = renew_timestamps(archive, CLI, tsa_url=pki.tsa_url("tsa2"), within_days=30)
    assert len(first.renewed) == 2 and again.renewed == [] and again.read == 0


def test_an_interrupted_run_leaves_each_consent_whole(
    archive: Archive, catalog, demo_data, pki, monkeypatch
):
    ids = submitted(archive, catalog, demo_data)
    before = {i: archive.pdf(i) for i in ids}
    real = timestamps._remember
    calls = []

    def dies_on_the_first_commit(session, consent_id, sha256, expires_at):
        calls.append(consent_id)
        if len(calls) == 3:  # after reading both, at the first renewal's commit
            raise KeyboardInterrupt
        real(session, consent_id, sha256, expires_at)

    monkeypatch.setattr(timestamps, "_remember", dies_on_the_first_commit)
    with pytest.raises(KeyboardInterrupt):
        renew_timestamps(archive, CLI, tsa_url=pki.tsa_url("tsa2"), within_days=30)
    # Every row still names its old PDF, which is still there.
    assert {i: archive.pdf(i) for i in ids} == before
    assert events(archive, "consent timestamped") == []
    monkeypatch.setattr(timestamps, "_remember", real)
    # The new PDF stored before the interruption is one no row names: repair removes it.
    removed = archive.repair(CLI, grace_seconds=0).removed
    assert len(removed) == (1 if archive.settings.storage == "files" else 0)
    report = renew_timestamps(archive, CLI, tsa_url=pki.tsa_url("tsa2"), within_days=30)
    assert sorted(report.renewed) == sorted(ids)


def test_intake_verify_archive_takes_the_newest_and_an_earlier_revision(
    archive: Archive, catalog, demo_data, pki, intake, tmp_path
):
    (consent_id,) = submitted(archive, catalog, demo_data, count=1)
    earlier = tmp_path / "earlier.pdf"
    earlier.write_bytes(archive.pdf(consent_id))
    renew_timestamps(archive, CLI, tsa_url=pki.tsa_url("tsa2"), within_days=30)
    newest = tmp_path / "newest.pdf"
    newest.write_bytes(archive.pdf(consent_id))
    pki.stop()
    result = intake("verify", newest, "--archive")
    assert result.exit_code == 0, result.output
    assert f"archive: matches consent {consent_id}" in result.output
    result = intake("verify", earlier, "--archive")
    assert result.exit_code == 0, result.output
    assert f"archive: an earlier revision of consent {consent_id}" in result.output


def test_the_command_renews_and_reports(archive, catalog, demo_data, pki, intake, monkeypatch):
    submitted(archive, catalog, demo_data)
    result = intake("archive", "timestamp", "--within-days", "30")
    assert result.exit_code != 0 and "error: TSA_URL: no timestamp authority is set" in (
        result.output
    )
    monkeypatch.setenv("TSA_URL", pki.tsa_url("tsa2"))
    result = intake("archive", "timestamp", "--within-days", "30")
    assert result.exit_code == 0, result.output
    assert "archive timestamp: 2 renewed, 0 failed (expiring within 30 days" in result.output


def test_a_renewal_that_fails_is_named_and_the_rest_go_on(archive, catalog, demo_data, pki):
    submitted(archive, catalog, demo_data)
    report = renew_timestamps(archive, CLI, tsa_url=f"{pki.url}/nowhere/tsa/none", within_days=30)
    assert report.renewed == [] and len(report.failed) == 2
    assert all(consent for consent, _ in report.failed)


def test_the_expiry_is_read_from_the_last_timestamp(archive, catalog, demo_data, pki):
    (consent_id,) = submitted(archive, catalog, demo_data, count=1)
    expiry = ltv.last_timestamp_expiry(archive.pdf(consent_id))
    tsa = pki.certificate("tsa")
    assert expiry == tsa["tbs_certificate"]["validity"]["not_after"].native
    assert timedelta(days=19) < expiry - archive.get(consent_id).created_at < timedelta(days=22)
