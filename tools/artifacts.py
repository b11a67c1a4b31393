"""Helpers for the test stand-in artifacts that tools/ builds."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path
from types import ModuleType

from lab.config import REPO

# The fleet's model mirror, shipped to the hosts by the ollama role and run by the deploy.
OLLAMA_MIRROR = REPO / "roles" / "ollama" / "files" / "ollama_mirror.py"


def write_checksum(artifact: Path) -> str:
    """Write <artifact>.sha256 (the hex digest the roles' checksum variables read) and return it."""
    digest = hashlib.sha256(artifact.read_bytes()).hexdigest()
    artifact.with_name(artifact.name + ".sha256").write_text(digest + "\n")
    return digest


def load_script(path: Path) -> ModuleType:
    """A standalone script (one a role ships to the hosts) imported as a module."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
