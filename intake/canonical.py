"""The one canonical JSON: what the project hashes, so equal data always gives equal bytes.

Sorted keys, no spaces, UTF-8 without escapes, no NaN or infinity. A consent's submission, a
form definition's content and each audit row are hashed in this form, and stored hashes are
checked against it again years later: it must never change.
"""

from __future__ import annotations

import json
from typing import Any

#: Made once: `json.dumps` with these options would build an encoder on every call, which is
#: most of the cost of hashing an audit row.
_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


def canonical_json(data: Any) -> bytes:
    return _ENCODER.encode(data).encode("utf-8")
