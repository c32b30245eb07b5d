"""The export reads its pages in order from an index: no page sorts the archive again, so an
export grows with the archive, not with its square (SQLite's plan, on the migrated schema)."""

from __future__ import annotations

from datetime import date

from sqlalchemy.dialects import sqlite

from intake.archive.export import _page_query
from intake.archive.models import ARCHIVED, Consent
from intake.archive.service import Archive


def _plan(archive: Archive, after) -> list[str]:
    wanted = (Consent.status == ARCHIVED, Consent.signed_on >= date(2000, 1, 1))
    query = _page_query(Consent, Consent.submission_json, Consent.signed_on, wanted, after)
    sql = str(query.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
    with archive.engine.connect() as connection:
        rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}").all()
    return [row[-1] for row in rows]


def test_each_page_of_the_export_is_read_from_its_index_in_order(archive: Archive) -> None:
    for after in (None, (date(2020, 1, 1), "a" * 32)):
        plan = _plan(archive, after)
        assert any("ix_consents_export" in step for step in plan), plan
        assert not any("TEMP B-TREE" in step for step in plan), plan
