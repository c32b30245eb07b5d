"""The staff audit trail page at 100,000 and 1,000,000 audit rows, through the real app.

Rows are seeded in batches through the audit writer's hashing (`tests/support/audit_rows.py`),
then `intake audit verify`'s full walk keeps the checkpoint. Each view is timed through the
Flask test client as an admin: the newest page (the checkpoint at the newest row), an older page
by keyset, and a view that first checks the most rows one view may (`AUDIT_CHECK_PER_VIEW` rows
added since the last check). The full walk is timed beside it, as the cost each view paid before.

    .venv/bin/python -m bench.bench_audit_page [--rows 100000 [1000000 ...]] [--database-url URL]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bench.measure import Figure
from intake.staff import service
from tests.support.app import app_settings, new_app
from tests.support.audit_rows import seed_audit_rows
from tests.support.staff import StaffActions, make_staff

TARGET_MS = 100
SIZES = (100_000, 1_000_000)
ROUNDS = 15


def timed_view(admin: StaffActions, url: str) -> float:
    started = time.perf_counter()
    response = admin.client.get(url)
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 200 and "The trail holds" in response.text, url
    return elapsed


def measure(rows: int, database_url: str = "") -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as scratch:
        overrides = {"DATABASE_URL": database_url} if database_url else {}
        app = new_app(app_settings(Path(scratch), **overrides))
        archive = app.extensions["archive"]
        make_staff(archive, "admin")
        admin = StaffActions(app.test_client())
        admin.login_as("admin")
        started = time.perf_counter()
        newest = seed_audit_rows(archive, rows)
        seeded = time.perf_counter() - started
        started = time.perf_counter()
        assert archive.verify_audit().holds
        walk = time.perf_counter() - started
        newest_page = [timed_view(admin, "/staff/audit") for _ in range(ROUNDS)]
        older = [timed_view(admin, f"/staff/audit?before={newest // 2}") for _ in range(ROUNDS)]
        extend = []
        for _ in range(5):
            seed_audit_rows(archive, service.AUDIT_CHECK_PER_VIEW)
            extend.append(timed_view(admin, "/staff/audit"))
        backend = archive.engine.dialect.name
        archive.dispose()
    print(
        f"{backend} {newest:,} audit rows (seeded in {seeded:.0f} s): "
        f"full walk {walk * 1000:,.0f} ms; "
        f"newest page {statistics.median(newest_page):.1f} ms median, "
        f"max {max(newest_page):.1f}; older page {statistics.median(older):.1f} ms; "
        f"a view checking {service.AUDIT_CHECK_PER_VIEW:,} new rows "
        f"{statistics.median(extend):.1f} ms median, max {max(extend):.1f}",
        flush=True,
    )
    part, target = "7 audit", f"< {TARGET_MS} ms"
    at = f"{backend}, {rows:,} audit rows"
    return [
        Figure(
            part,
            f"audit page, newest ({at})",
            f"{statistics.median(newest_page):.1f} ms",
            target,
            statistics.median(newest_page) < TARGET_MS,
        ),
        Figure(
            part,
            f"audit page, older by keyset ({at})",
            f"{statistics.median(older):.1f} ms",
            target,
            statistics.median(older) < TARGET_MS,
        ),
        Figure(
            part,
            f"audit page checking {service.AUDIT_CHECK_PER_VIEW} new rows ({at})",
            f"{statistics.median(extend):.1f} ms",
            target,
            statistics.median(extend) < TARGET_MS,
        ),
        Figure(
            part,
            f"whole-chain walk, the cost of a view before ({at})",
            f"{walk * 1000:,.0f} ms",
            note="intake audit verify",
        ),
    ]


def run(sizes: tuple[int, ...] = SIZES) -> list[Figure]:
    return [figure for rows in sizes for figure in measure(rows)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--database-url", default="")
    options = parser.parse_args()
    for rows in options.rows:
        measure(rows, options.database_url)


if __name__ == "__main__":
    main()
