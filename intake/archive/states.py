"""A consent's or a record's state in words a person reads: "the consent is deleted" on the
command line, "el consentimiento está eliminado" on a Spanish staff page."""

from __future__ import annotations

from intake.archive.models import ARCHIVED, DELETED, PENDING
from intake.languages import N_, Said

#: Each state's word in the catalogs.
STATE_WORDS = {PENDING: N_("pending"), ARCHIVED: N_("archived"), DELETED: N_("deleted")}


def state_said(status: str) -> Said | str:
    """The state `status` as a `Said` (its word in the page's language); a state this module
    does not know comes back as it is."""
    return Said(STATE_WORDS[status]) if status in STATE_WORDS else status
