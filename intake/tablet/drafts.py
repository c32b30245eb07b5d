"""Tablet drafts: a patient's answers between steps, kept on the server, never in the cookie.

A draft is named by a random id that the Flask session holds. It expires `ttl` seconds after the
last step the patient saved. Once submitted, the answers are dropped and only a receipt stays (the
consent id and the one-time patient-copy link).

What one address may keep is bounded: a draft is at most `max_bytes` of JSON (a save beyond
it raises `DraftTooLarge`), and an address (a tablet, until tablets are enrolled) has at most
`per_owner` live drafts (`create` raises `TooManyDrafts`). The count is kept by the store
itself: a draft's id starts with a short hash of the address that made it, so both stores count
an address's drafts with one prefix lookup, and no address is stored.

Two stores, the same behaviour: `FileDrafts` keeps each draft as a private JSON file under the
instance folder (one app server, `STORAGE=files`); `DatabaseDrafts` keeps it as a row of the
archive database (`STORAGE=database`), so any of several app servers can serve the next step.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import re
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from intake.archive.models import DraftRow
from intake.safe_write import make_folders

_DRAFT_ID = re.compile(r"^[A-Za-z0-9_-]{43}$")
#: A draft id: the owner's prefix (11 characters), then 32 random ones (192 bits).
_OWNER_PREFIX_BYTES = 8
_RANDOM_BYTES = 24

#: The largest draft kept: room for the largest answers the checks accept (two signature pads
#: of 20,000 points are about 650 KB of JSON), far below what a post of refused answers once
#: left behind.
DRAFT_MAX_BYTES = 1024 * 1024
#: Live drafts one address may hold at once: the clinic's tablets each hold one or two.
DRAFTS_PER_OWNER = 20


class DraftTooLarge(Exception):
    """A draft over the store's `max_bytes` was not saved."""


class TooManyDrafts(Exception):
    """The address already holds `per_owner` live drafts; no new one was made."""


def owner_prefix(owner: str) -> str:
    """The first characters of every draft id an address makes: a hash, never the address."""
    digest = hashlib.sha256(f"intake draft owner:{owner}".encode()).digest()
    return base64.urlsafe_b64encode(digest[:_OWNER_PREFIX_BYTES]).decode().rstrip("=")


@dataclass
class Draft:
    """The answers so far, in the shape of the submission format, and where the patient is."""

    id: str
    form_id: str
    updated_at: float
    #: Parts of the submission: "patient", "health", "screening", "acknowledgments",
    #: "signature", "guardian", "signed_at".
    answers: dict[str, Any] = field(default_factory=dict)
    #: Steps whose answers passed validation.
    done_steps: list[str] = field(default_factory=list)
    #: Sent with the review page; a submit carrying it makes one consent, however often it comes.
    submit_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    consent_id: str | None = None
    #: The one-time link to the patient's copy (`archive.copies`) and the code it opens with,
    #: kept for the thank-you screen only.
    copy_token: str | None = None
    copy_code: str | None = None
    copy_expires_at: float | None = None

    @property
    def submitted(self) -> bool:
        return self.consent_id is not None

    def to_json(self) -> str:
        """The draft as both stores save it (`Drafts.get` reads it back): its fields as they
        are (the answers are JSON already, so no deep copy of them first)."""
        return json.dumps({f.name: getattr(self, f.name) for f in fields(self)}, ensure_ascii=False)


class Drafts:
    """What both stores share: making a draft. Each store adds get, save, delete, sweep and
    locked."""

    ttl: float
    clock: Callable[[], float]
    max_bytes: int = DRAFT_MAX_BYTES
    per_owner: int = DRAFTS_PER_OWNER

    def create(self, form_id: str, owner: str = "") -> Draft:
        """A new, empty draft for `owner` (the client's address); expired drafts of earlier
        patients are deleted on the way. Raises `TooManyDrafts` when `owner` holds
        `per_owner` live drafts already."""
        self.sweep()
        prefix = owner_prefix(owner)
        draft = Draft(
            id=prefix + secrets.token_urlsafe(_RANDOM_BYTES), form_id=form_id, updated_at=0
        )
        self._add_counted(draft, prefix)
        return draft

    def _add_counted(self, draft: Draft, prefix: str) -> None:
        """Save the new `draft` unless `prefix` holds `per_owner` live drafts; the count and
        the save are one step against every other start from the same address."""
        raise NotImplementedError

    def body(self, draft: Draft) -> str:
        """The JSON a store saves; `DraftTooLarge` when it is over `max_bytes`."""
        text = draft.to_json()
        if len(text.encode()) > self.max_bytes:
            raise DraftTooLarge
        return text

    def live_count(self, prefix: str) -> int:
        """How many drafts, not yet expired, have ids starting with `prefix`."""
        raise NotImplementedError

    def get(self, draft_id: str | None) -> Draft | None:
        """The draft, or None when it never existed, was wiped, or has expired."""
        text = self._load(draft_id) if draft_id and _DRAFT_ID.match(draft_id) else None
        if text is None:
            return None
        try:
            draft = Draft(**json.loads(text))
        except (ValueError, TypeError):
            return None
        if self.clock() - draft.updated_at > self.ttl:
            self.delete(draft_id)
            return None
        return draft

    def _load(self, draft_id: str) -> str | None:
        """The saved draft's JSON, or None."""
        raise NotImplementedError

    def save(self, draft: Draft) -> None:
        raise NotImplementedError

    def delete(self, draft_id: str | None) -> None:
        raise NotImplementedError

    def sweep(self) -> None:
        raise NotImplementedError

    def locked(self, draft_id: str) -> contextlib.AbstractContextManager[None]:
        raise NotImplementedError


class FileDrafts(Drafts):
    """Drafts as private files under `root`, expiring `ttl` seconds after their last save."""

    def __init__(
        self,
        root: Path,
        ttl: float,
        clock: Callable[[], float] = time.time,
        *,
        max_bytes: int = DRAFT_MAX_BYTES,
        per_owner: int = DRAFTS_PER_OWNER,
    ) -> None:
        self.root = Path(root)
        self.ttl = ttl
        self.clock = clock
        self.max_bytes = max_bytes
        self.per_owner = per_owner

    def _path(self, draft_id: str, suffix: str = ".json") -> Path:
        if not _DRAFT_ID.match(draft_id):
            raise KeyError(draft_id)
        return self.root / f"{draft_id}{suffix}"

    def _load(self, draft_id: str) -> str | None:
        try:
            return self._path(draft_id).read_text(encoding="utf-8")
        except (KeyError, FileNotFoundError, UnicodeDecodeError):
            return None

    def save(self, draft: Draft) -> None:
        draft.updated_at = self.clock()
        text = self.body(draft)
        make_folders(self.root)
        path = self._path(draft.id)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        # The file's time is the draft's last save, so a sweep reads no file.
        os.utime(tmp, (draft.updated_at, draft.updated_at))
        os.replace(tmp, path)

    def delete(self, draft_id: str | None) -> None:
        if not draft_id:
            return
        for suffix in (".json", ".lock"):
            try:
                self._path(draft_id, suffix).unlink(missing_ok=True)
            except KeyError:
                return

    def sweep(self) -> None:
        """Delete every expired draft, by the time of its file (set to its last save), so a new
        patient's start reads no draft file, however many are kept; and the lock and temporary
        files that no live draft uses (a save or a submit cut short)."""
        if not self.root.is_dir():
            return
        now = self.clock()
        for path in self.root.iterdir():
            if path.suffix not in (".json", ".lock", ".tmp"):
                continue
            try:
                expired = now - path.stat().st_mtime > self.ttl
            except OSError:
                expired = True
            if not expired:
                continue
            if path.suffix == ".json":
                self.delete(path.stem)
            elif not path.with_suffix(".json").exists():
                path.unlink(missing_ok=True)

    def _add_counted(self, draft: Draft, prefix: str) -> None:
        make_folders(self.root)
        fd = os.open(self.root / f"{prefix}.owner.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if self.live_count(prefix) >= self.per_owner:
                raise TooManyDrafts
            self.save(draft)
        finally:
            os.close(fd)

    def live_count(self, prefix: str) -> int:
        if not self.root.is_dir():
            return 0
        now = self.clock()
        count = 0
        for path in self.root.glob(f"{prefix}*.json"):
            try:
                count += now - path.stat().st_mtime <= self.ttl
            except OSError:
                continue
        return count

    @contextmanager
    def locked(self, draft_id: str) -> Iterator[None]:
        """Hold an exclusive lock on one draft, across threads and processes."""
        make_folders(self.root)
        fd = os.open(self._path(draft_id, ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


class DatabaseDrafts(Drafts):
    """Drafts as rows of the archive database, expiring `ttl` seconds after their last save.

    A submit holds a lease on its draft (`locked_until`) rather than a database lock, so the
    archive's own transactions run freely meanwhile; a server that dies holding one delays a
    second submit of that draft by `lease` seconds at most.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        ttl: float,
        clock: Callable[[], float] = time.time,
        lease: float = 60,
        *,
        max_bytes: int = DRAFT_MAX_BYTES,
        per_owner: int = DRAFTS_PER_OWNER,
    ) -> None:
        self.sessions = sessions
        self.ttl = ttl
        self.clock = clock
        self.lease = lease
        self.max_bytes = max_bytes
        self.per_owner = per_owner

    def _load(self, draft_id: str) -> str | None:
        with self.sessions() as session:
            return session.scalar(select(DraftRow.body).where(DraftRow.id == draft_id))

    def save(self, draft: Draft) -> None:
        draft.updated_at = self.clock()
        body = self.body(draft)
        with self.sessions.begin() as session:
            saved = session.execute(
                update(DraftRow)
                .where(DraftRow.id == draft.id)
                .values(body=body, updated_at=draft.updated_at)
            ).rowcount
            if not saved:
                session.add(DraftRow(id=draft.id, updated_at=draft.updated_at, body=body))

    def delete(self, draft_id: str | None) -> None:
        if not draft_id or not _DRAFT_ID.match(draft_id):
            return
        with self.sessions.begin() as session:
            session.execute(delete(DraftRow).where(DraftRow.id == draft_id))

    def sweep(self) -> None:
        with self.sessions.begin() as session:
            session.execute(delete(DraftRow).where(DraftRow.updated_at < self.clock() - self.ttl))

    def _add_counted(self, draft: Draft, prefix: str) -> None:
        draft.updated_at = self.clock()
        body = self.body(draft)
        # SQLite: the transaction holds the write lock from its start (BEGIN IMMEDIATE).
        # PostgreSQL: starts from one address queue on a lock of their own.
        with self.sessions.begin() as session:
            if session.get_bind().dialect.name == "postgresql":
                key = int.from_bytes(
                    hashlib.sha256(prefix.encode()).digest()[:8], "big", signed=True
                )
                session.execute(select(func.pg_advisory_xact_lock(key)))
            if self._count(session, prefix) >= self.per_owner:
                raise TooManyDrafts
            session.add(DraftRow(id=draft.id, updated_at=draft.updated_at, body=body))

    def live_count(self, prefix: str) -> int:
        with self.sessions() as session:
            return self._count(session, prefix)

    def _count(self, session: Session, prefix: str) -> int:
        return session.scalar(
            select(func.count())
            .select_from(DraftRow)
            .where(
                DraftRow.id.startswith(prefix, autoescape=True),
                DraftRow.updated_at >= self.clock() - self.ttl,
            )
        )

    @contextmanager
    def locked(self, draft_id: str, poll: float = 0.05) -> Iterator[None]:
        """Hold the draft's lease, across threads, processes and app servers."""
        while True:
            now = self.clock()
            with self.sessions.begin() as session:
                taken = session.execute(
                    update(DraftRow)
                    .where(
                        DraftRow.id == draft_id,
                        or_(DraftRow.locked_until.is_(None), DraftRow.locked_until < now),
                    )
                    .values(locked_until=now + self.lease)
                ).rowcount
                gone = not taken and session.get(DraftRow, draft_id) is None
            if taken or gone:
                break
            time.sleep(poll)
        try:
            yield
        finally:
            if taken:
                with self.sessions.begin() as session:
                    session.execute(
                        update(DraftRow).where(DraftRow.id == draft_id).values(locked_until=None)
                    )
