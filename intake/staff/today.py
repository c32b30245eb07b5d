"""Today's list (front desk and clinicians): the patients at the clinic now (on the tablet,
checked in, waiting for a clinician's review), then those due or overdue for an injection,
the longest overdue first. Front-desk staff start visits from a patient's page; clinicians
review and record from here. Paged by keyset (`?after=` the last row's due day and id)."""

from __future__ import annotations

from datetime import date

from flask import render_template, request
from flask.typing import ResponseReturnValue

from intake.archive.models import is_id
from intake.archive.schedule import (
    CHECKED_IN,
    DUE,
    ON_TABLET,
    OVERDUE,
    WAITING_FOR_REVIEW,
    Schedule,
)
from intake.archive.web import get_archive
from intake.i18n import gettext, lazy_gettext
from intake.staff.auth import allow
from intake.staff.lots import clinic_today
from intake.staff.pages import bp

#: How each state of a row reads on the list.
STATE_WORDS = {
    OVERDUE: lazy_gettext("Overdue"),
    DUE: lazy_gettext("Due today"),
    ON_TABLET: lazy_gettext("On the tablet"),
    CHECKED_IN: lazy_gettext("Checked in"),
    WAITING_FOR_REVIEW: lazy_gettext("Waiting for review"),
}


def _after(text: str | None) -> tuple[date, str] | None:
    """The keyset of the page asked for (`YYYY-MM-DD.patient-id`); None for the first page or
    anything else."""
    day, _, patient_id = (text or "").partition(".")
    try:
        return (date.fromisoformat(day), patient_id) if is_id(patient_id) else None
    except ValueError:
        return None


@bp.get("/today")
@allow("front-desk")
def today() -> ResponseReturnValue:
    day = clinic_today()
    after = _after(request.args.get("after"))
    page = Schedule(get_archive()).day_list(day, after=after)
    more = f"{page.next_page[0].isoformat()}.{page.next_page[1]}" if page.next_page else None
    return render_template(
        "staff/today.html",
        page=page,
        more=more,
        first_page=after is None,
        words={state: str(words) for state, words in STATE_WORDS.items()},
        page_title=gettext("Today"),
        section="today",
    )
