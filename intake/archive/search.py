"""Finding consents: what staff search by, the query that finds them, and pages of results.

Names are searched by word (`consent_names`, one row per folded word of a legal name), by
prefix, every word of the search matching; results come newest first, a page at a time, each
page ending with a cursor that the next page starts after.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import aliased, defer

from intake.archive.models import DELETED, Consent, ConsentName, utcnow

PAGE_SIZE = 25
#: A signing-date range up to this long is searched through its own index first on PostgreSQL.
FOUND_FIRST_DAYS = 92


@dataclass(frozen=True)
class SearchCriteria:
    """What staff search by; every part optional."""

    name: str = ""
    date_of_birth: date | None = None
    signed_from: date | None = None
    signed_to: date | None = None
    needs_review: bool = False

    def to_json(self) -> str:
        return json.dumps(
            {
                "name": self.name,
                "date_of_birth": self.date_of_birth and self.date_of_birth.isoformat(),
                "signed_from": self.signed_from and self.signed_from.isoformat(),
                "signed_to": self.signed_to and self.signed_to.isoformat(),
                "needs_review": self.needs_review,
            }
        )

    @classmethod
    def from_json(cls, text: str | None) -> SearchCriteria:
        if not text:
            return cls()
        data = json.loads(text)

        def day(key: str) -> date | None:
            return date.fromisoformat(data[key]) if data.get(key) else None

        return cls(
            name=data.get("name", ""),
            date_of_birth=day("date_of_birth"),
            signed_from=day("signed_from"),
            signed_to=day("signed_to"),
            needs_review=bool(data.get("needs_review")),
        )

    @property
    def empty(self) -> bool:
        return self == SearchCriteria()


@dataclass(frozen=True)
class Page:
    consents: list[Consent]
    #: Where the next (older) page starts, or None on the last page.
    next_cursor: str | None

    @classmethod
    def of(cls, rows: list[Consent], limit: int) -> Page:
        """The page of the first `limit` rows of a query asked for `limit + 1`."""
        more = len(rows) > limit
        rows = rows[:limit]
        return cls(rows, encode_cursor(rows[-1]) if more and rows else None)


def name_words(name: str) -> list[str]:
    """A name as search words, accents and case folded: "Zoë O'Brien" → ["zoe", "obrien"]."""
    text = unicodedata.normalize("NFKD", name)
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    text = re.sub(r"['\u2019\u02bc`]", "", text)
    words: list[str] = []
    for word in re.split(r"[\W_]+", text):
        if word and word[:100] not in words:
            words.append(word[:100])
    return words[:20]


def encode_cursor(consent: Consent) -> str:
    return f"{consent.created_at.strftime('%Y%m%dT%H%M%S%f')}.{consent.id}"


def decode_cursor(cursor: str) -> tuple[datetime, str] | None:
    match = re.fullmatch(r"(\d{8}T\d{12})\.([0-9a-f]{32})", cursor or "")
    if not match:
        return None
    try:
        moment = datetime.strptime(match.group(1), "%Y%m%dT%H%M%S%f")
    except ValueError:  # digits in the right places, but no such date: the first page
        return None
    return moment.replace(tzinfo=utcnow().tzinfo), match.group(2)


def search_query(
    criteria: SearchCriteria, *, cursor: str | None, limit: int, postgresql: bool
) -> Select[tuple[Consent]]:
    """Consents matching `criteria` after `cursor`, newest first, `limit + 1` of them (the one
    more tells whether a next page exists), without their submission."""
    query = select(Consent).options(defer(Consent.submission_json)).where(Consent.status != DELETED)
    matching = None
    # Each word's subquery inside the next, the longest (usually rarest) innermost: the
    # words' ids are intersected before `consents` is touched, rather than each consent being
    # checked against one IN per word. Aliases keep the subqueries apart.
    words = sorted(name_words(criteria.name), key=len, reverse=True)
    for word in words:
        names = aliased(ConsentName)
        step = select(names.consent_id).where(names.word >= word, names.word < _prefix_upper(word))
        if matching is not None:
            step = step.where(names.consent_id.in_(matching))
        matching = step
    if matching is not None:
        if postgresql and len(words) >= 2 and len(words[0]) >= 2:
            matching = _found_first(matching, "name_matches")
        query = query.where(Consent.id.in_(matching))
    if criteria.date_of_birth:
        query = query.where(Consent.date_of_birth == criteria.date_of_birth)
    if (
        postgresql
        and criteria.signed_from
        and criteria.signed_to
        and (criteria.signed_to - criteria.signed_from).days <= FOUND_FIRST_DAYS
    ):
        signed = select(Consent.id).where(
            Consent.signed_on >= criteria.signed_from, Consent.signed_on <= criteria.signed_to
        )
        query = query.where(Consent.id.in_(_found_first(signed, "signed_matches")))
    else:
        if criteria.signed_from:
            query = query.where(Consent.signed_on >= criteria.signed_from)
        if criteria.signed_to:
            query = query.where(Consent.signed_on <= criteria.signed_to)
    if criteria.needs_review:
        query = query.where(Consent.needs_review.is_(True))
    after = decode_cursor(cursor) if cursor else None
    if after:
        moment, last_id = after
        query = query.where(
            # The plain bound lets SQLite seek the index to the cursor instead of scanning.
            Consent.created_at <= moment,
            or_(
                Consent.created_at < moment,
                and_(Consent.created_at == moment, Consent.id < last_id),
            ),
        )
    return query.order_by(Consent.created_at.desc(), Consent.id.desc()).limit(limit + 1)


def _found_first(ids: Select, name: str) -> Select:
    """`ids` computed on their own, before any consent row is read (PostgreSQL only).

    With a LIMIT, PostgreSQL's planner walks the consents newest first and checks each against
    the search, betting the matches are spread evenly through time; when the matches are few,
    or bunched in the past, that walk reads a large part of the table. A materialized CTE makes
    it read the matches from their own index, then sort only those. Used where matches are few
    by nature: two name words or more (the longest of two letters or more), a signing range of
    up to `FOUND_FIRST_DAYS`. One word keeps the planner's choice, which it estimates well: even
    a common surname is a short walk, where reading every match first would be slower.
    """
    found = ids.cte(name).prefix_with("MATERIALIZED")
    return select(found.c[0])


def _prefix_upper(word: str) -> str:
    """The smallest string after every string that starts with `word`."""
    return word[:-1] + chr(ord(word[-1]) + 1)
