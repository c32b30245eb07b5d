"""A progressive delay on failed logins, per account and per address (OWASP ASVS 4, 2.2.1).

The first few failures cost nothing; each one after them doubles the wait before the next
password or code is checked, up to a cap, and a day without failures forgets them. Nothing is
ever locked for good, so an attacker cannot keep the owner out: the owner waits at most the
cap, and a right password for an account with no failures of its own is checked whatever its
neighbours at the same address typed. The counts are rows of `login_throttles`, each locked
while a login is checked (`SELECT ... FOR UPDATE` on PostgreSQL, `BEGIN IMMEDIATE` on SQLite),
so parallel guesses get no more checks than the count allows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from intake.archive.models import LoginThrottle


@dataclass(frozen=True)
class Limit:
    #: Failures that cost no wait.
    free: int
    #: The wait after the first failure past the free ones; each further one doubles it...
    first: timedelta
    #: ...up to this.
    cap: timedelta

    def wait_after(self, failures: int) -> timedelta:
        if failures < self.free:
            return timedelta(0)
        return min(self.first * 2 ** min(failures - self.free, 30), self.cap)


#: One person's account: three typos are free, then 15 s, 30 s, 1 min, ... 15 min at most.
ACCOUNT = Limit(free=3, first=timedelta(seconds=15), cap=timedelta(minutes=15))
#: One address, which a whole clinic may share behind its router: more free failures.
ADDRESS = Limit(free=10, first=timedelta(seconds=15), cap=timedelta(minutes=15))
#: Failures older than this (counted from the newest) are forgotten.
FORGET_AFTER = timedelta(hours=24)


def account_key(staff_id: str) -> str:
    return f"account {staff_id}"


def address_key(ip: str) -> str:
    return f"address {ip[:64]}"


def hold(session: Session, key: str, now: datetime) -> LoginThrottle:
    """The row of `key`, made if missing and locked until the caller's transaction ends."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(
        insert(LoginThrottle)
        .values(key=key, failures=0, last_failed_at=None, wait_until=None)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    row = session.execute(
        select(LoginThrottle)
        .where(LoginThrottle.key == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
    if row.last_failed_at is not None and now - row.last_failed_at > FORGET_AFTER:
        clear(row)
    return row


def wait(row: LoginThrottle, now: datetime) -> timedelta | None:
    """How long before `row`'s key may be checked again; None when it may be now."""
    if row.wait_until is None or row.wait_until <= now:
        return None
    return row.wait_until - now


def fail(row: LoginThrottle, limit: Limit, now: datetime) -> None:
    row.failures += 1
    row.last_failed_at = now
    delay = limit.wait_after(row.failures)
    row.wait_until = now + delay if delay else None


def clear(row: LoginThrottle) -> None:
    row.failures = 0
    row.last_failed_at = None
    row.wait_until = None


def wait_shown(delay: timedelta) -> timedelta:
    """The wait as a message gives it (45 seconds, 2 minutes): rounded up to a second, or to a
    minute from one minute on, so the message is never too short."""
    seconds = max(1, math.ceil(delay.total_seconds()))
    if seconds < 60:
        return timedelta(seconds=seconds)
    return timedelta(minutes=-(-seconds // 60))
