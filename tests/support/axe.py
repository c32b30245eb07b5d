"""axe-core (from npm, `tests/axe/`) run inside a page that Playwright has open.

`make test` installs it (`npm install` in `tests/axe/`) when it is missing. Without it a test
that asks for it skips, except under CI=true, where it fails. The script is handed to the page
through the DevTools protocol, so the pages' own Content-Security-Policy (no inline scripts)
stays as it is.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import pytest

from intake.config import PROJECT_ROOT

AXE = PROJECT_ROOT / "tests" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
#: WCAG 2.2 level AA, with everything of 2.0 and 2.1 A and AA it includes.
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


@cache
def _source() -> str:
    return AXE.read_text(encoding="utf-8")


def axe_source() -> str:
    """The axe-core script; a skip (a failure under CI=true) when it is not installed."""
    if not AXE.exists():
        message = f"{AXE} is missing: run `make test`, or `npm install` in tests/axe"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return _source()


def violations(page: Any) -> list[dict[str, Any]]:
    """Every WCAG 2.2 AA violation axe finds on the page as it is now."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(axe_source())
    return page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: "
        "['violations']}).then(r => r.violations.map(v => ({id: v.id, impact: v.impact, "
        "help: v.help, nodes: v.nodes.map(n => n.target.join(' ') + ': ' + "
        "n.failureSummary)})))",
        TAGS,
    )


def assert_accessible(page: Any, where: str) -> None:
    """No WCAG 2.2 AA violation on the page; the message names each rule and element."""
    found = violations(page)
    assert not found, f"{where}: " + "\n".join(
        f"{v['id']} ({v['impact']}): {v['help']}\n    " + "\n    ".join(v["nodes"][:5])
        for v in found
    )
