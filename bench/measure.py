"""What every benchmark shares: the demo consent, and timing a call in rounds."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from intake.config import PROJECT_ROOT
from intake.definition import ConsentDefinition, FormCatalog
from intake.submission import Submission, validate_submission

ROUNDS = 15
PER_ROUND = 10


def demo_consent() -> tuple[ConsentDefinition, Submission]:
    """The demo submission, validated, with its definition."""
    catalog = FormCatalog(PROJECT_ROOT / "forms")
    data = json.loads((PROJECT_ROOT / "intake" / "demo_submission.json").read_text("utf-8"))
    submission = validate_submission(data, catalog)
    return catalog.get(submission.form_id), submission


def ms_per_call(fn: Callable[[], object], samples: list[float]) -> None:
    """Append one round's mean milliseconds per call of `fn` to `samples`."""
    start = time.perf_counter()
    for _ in range(PER_ROUND):
        fn()
    samples.append((time.perf_counter() - start) * 1000 / PER_ROUND)
