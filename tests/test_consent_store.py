"""The file-based consent store behind the `ConsentStore` seam."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from intake.consent_store import ConsentNotFound, FileConsentStore
from intake.submission import validate_submission


def test_save_then_open(tmp_path: Path, demo_data, catalog):
    store = FileConsentStore(tmp_path)
    submission = validate_submission(demo_data, catalog)
    consent_id = store.save(submission, b"%PDF-1.7 test", "0" * 32)
    assert consent_id == "0" * 32
    assert store.open_pdf(consent_id) == b"%PDF-1.7 test"
    stored = (tmp_path / consent_id / "submission.json").read_bytes()
    assert stored == submission.canonical_json()
    assert json.loads(stored)["patient"]["legal_name"] == "Zoë O'Brien"
    assert stat.S_IMODE((tmp_path / consent_id / "consent.pdf").stat().st_mode) == 0o600


def test_a_consent_is_never_overwritten(tmp_path: Path, demo_data, catalog):
    store = FileConsentStore(tmp_path)
    submission = validate_submission(demo_data, catalog)
    store.save(submission, b"first", "1" * 32)
    with pytest.raises(FileExistsError):
        store.save(submission, b"second", "1" * 32)
    assert store.open_pdf("1" * 32) == b"first"


@pytest.mark.parametrize("consent_id", ["2" * 32, "../secret_key", ""])
def test_unknown_ids_are_not_found(tmp_path: Path, consent_id):
    with pytest.raises(ConsentNotFound):
        FileConsentStore(tmp_path).open_pdf(consent_id)
