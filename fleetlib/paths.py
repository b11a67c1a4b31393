"""The repository's places: its root and the cache folders the Makefile, the release and the
lab fill."""

from __future__ import annotations

import sys
from pathlib import Path

from tools.host_apply import HOST_WHEELS

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".cache"
# The hosts' wheels (`make wheelhouse`): in a checkout where the release carries them, so the
# roles find them at the same place on the controller and on a host applying a release.
WHEELHOUSE = REPO / HOST_WHEELS
# The toolchain a self-configuring host runs site.yml with (`make apply-wheels`).
APPLY_WHEELS = CACHE / "apply-wheels"
ARTIFACTS = REPO / "artifacts"


def venv_bin(name: str) -> Path:
    """A console script installed beside the running interpreter (the project venv)."""
    return Path(sys.executable).parent / name
