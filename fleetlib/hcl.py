"""terraform/'s HCL read with python-hcl2, cleaned up: quotes off keys and plain strings, parser
markers dropped (the tests' checks and the generated documentation read it alike)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import hcl2

from fleetlib.paths import REPO

TERRAFORM = REPO / "terraform"
_MARKERS = {"__is_block__", "__comments__", "__start_line__", "__end_line__"}
_QUOTED = re.compile(r'^"(.*)"$', re.DOTALL)


def clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {clean(k): clean(v) for k, v in value.items() if k not in _MARKERS}
    if isinstance(value, list):
        return [clean(v) for v in value]
    if isinstance(value, str):
        match = _QUOTED.match(value)
        return match.group(1) if match else value
    return value


def blocks(path: Path, kind: str) -> dict[str, dict[str, Any]]:
    """Every block of a kind (variable, output, ...) in one file, by name, in the file's order."""
    with path.open() as handle:
        parsed = clean(hcl2.load(handle))
    return {name: body for block in parsed.get(kind, []) for name, body in block.items()}
