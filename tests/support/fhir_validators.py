"""Two independent FHIR validators for every resource an export writes.

- `fhir.resources` (PyPI), its R4B models (pydantic): types, cardinality, required elements,
  no unknown element.
- FHIR.js (the `fhir` package from npm, installed in `tests/fhir-validator/` by `make test`,
  as axe-core is in `tests/axe/`): the R4 StructureDefinitions, with the required value sets
  and, with `errorOnUnexpected`, no unknown element. Run by `tests/fhir-validator/validate.js`,
  one node process for a whole list.

No Java FHIR validator can be installed here, so these two stand in for it. Without the npm
package a test that asks for it skips, except under CI=true, where it fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from intake.config import PROJECT_ROOT

VALIDATOR_DIR = PROJECT_ROOT / "tests" / "fhir-validator"
FHIR_JS = VALIDATOR_DIR / "node_modules" / "fhir" / "index.js"
SCRIPT = VALIDATOR_DIR / "validate.js"


def fhir_resources_errors(resource: dict[str, Any]) -> list[str]:
    """What `fhir.resources` (R4B) finds wrong with `resource` ([] when it is valid)."""
    try:
        model = get_fhir_model_class(resource["resourceType"])
    except (KeyError, ValueError) as exc:
        return [f"not a resource type: {exc}"]
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        return [
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
        ]
    return []


def _node() -> str:
    node = shutil.which("node")
    message = ""
    if node is None:
        message = "node is not installed: run `make test`"
    elif not FHIR_JS.exists():
        message = f"{FHIR_JS} is missing: run `make test`, or `npm ci` in tests/fhir-validator"
    if message:
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    assert node is not None
    return node


def fhir_js_errors(resources: list[dict[str, Any]]) -> list[list[str]]:
    """What FHIR.js finds wrong with each resource, in order ([] for a valid one)."""
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in resources)
    done = subprocess.run(
        [_node(), str(SCRIPT)],
        input=lines.encode(),
        capture_output=True,
        cwd=VALIDATOR_DIR,
        timeout=300,
        check=True,
    )
    results = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert len(results) == len(resources), done.stderr.decode()
    return [result["errors"] if not result["valid"] else [] for result in results]


def invalid_resources(resources: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Each resource either validator rejects (by type/id), with both validators' errors."""
    found: dict[str, list[str]] = {}
    for resource, js_errors in zip(resources, fhir_js_errors(resources), strict=True):
        errors = [f"fhir.resources: {e}" for e in fhir_resources_errors(resource)]
        errors += [f"FHIR.js: {e}" for e in js_errors]
        if errors:
            found[f"{resource.get('resourceType')}/{resource.get('id')}"] = errors
    return found
