"""Standalone scripts that roles ship to the hosts, imported as modules by the lab, the
benchmarks and the tests."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from fleetlib.paths import REPO

# The fleet's model mirror, shipped to the hosts by the ollama role and run by the deploy.
OLLAMA_MIRROR = REPO / "roles" / "ollama" / "files" / "ollama_mirror.py"


def load_script(path: Path) -> ModuleType:
    """A standalone script (one a role ships to the hosts) imported as a module."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
