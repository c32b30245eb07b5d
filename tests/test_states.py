"""A consent's or a record's state in a person's words (intake/archive/states.py): the reason
the archive gives for not finishing one that is no longer pending reads in English on the
command line and in the page's language on a staff page, also once kept on a row."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from intake.archive.audit import Actor
from intake.archive.models import ARCHIVED, DELETED, PENDING, Consent
from intake.archive.states import state_said
from intake.languages import N_, Said, said_stored, say_in
from intake.submission import validate_submission

CLI = Actor(ip="", user_agent="intake test")


@pytest.mark.parametrize(
    ("status", "english", "spanish"),
    [
        (PENDING, "pending", "pendiente"),
        (ARCHIVED, "archived", "archivado"),
        (DELETED, "deleted", "eliminado"),
    ],
)
def test_each_state_has_its_word_in_each_language(status, english, spanish):
    said = state_said(status)
    assert (str(said), say_in("es", said)) == (english, spanish)


def test_a_state_without_a_word_is_shown_as_it_is():
    assert state_said("frozen") == "frozen" and not isinstance(state_said("frozen"), Said)


def test_a_record_no_longer_pending_is_said_in_the_page_language_also_when_kept():
    reason = Said(N_("the record is %(status)s"), status=state_said(DELETED))
    assert str(reason) == "the record is deleted"
    assert say_in("es", reason) == "el registro está eliminado"
    assert say_in("es", said_stored(reason.stored())) == "el registro está eliminado"


def test_finishing_a_deleted_consent_says_why_in_either_language(archive, catalog, demo_data):
    consent_id = archive.accept(validate_submission(demo_data, catalog), CLI)
    with archive.sessions() as session, session.begin():
        session.execute(update(Consent).where(Consent.id == consent_id).values(status=DELETED))
    reason = archive._finish(consent_id, CLI)
    assert str(reason) == "the consent is deleted"
    assert say_in("es", reason) == "el consentimiento está eliminado"
    assert archive.finish(consent_id, CLI) is False
