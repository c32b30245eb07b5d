"""Why a consent's or a record's PDF is not made yet, as its row keeps it (`last_error`).

A reason the archive words as a `Said` is stored as its msgid and values (`Said.stored`), so a
staff page says it in its own language; read back, it is a `Said` again, whose text is the
English the command line prints. Any other reason is kept as its text: a storage failure's
(the archive finds the consents waiting for storage by how those start, and a page puts their
place and phrase together in its language), an exception's class name, and every reason
written before reasons were kept this way, which reads back as it was written.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from intake.archive.errors import is_storage_reason
from intake.languages import Said, said_stored


class Reason(TypeDecorator[str]):
    """A `String(length)` column holding a reason for staff: a `Said` stored whole when it fits
    the column (else its English, cut to fit)."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        length = self.impl.length or 0
        if isinstance(value, Said) and not is_storage_reason(value):
            try:
                stored = value.stored()
            except TypeError:
                stored = ""
            if stored and len(stored) <= length:
                return stored
        return str(value)[:length] if length else str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else said_stored(value)
