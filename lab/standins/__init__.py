"""Builders of the TEST STAND-INs for what cannot be downloaded here (Ollama's release archive,
the CloudWatch and Systems Manager agents' packages): `make standin` runs them; the lab, the role
scenarios and the tests install what they build like the real artifacts."""

from __future__ import annotations

import hashlib
from pathlib import Path


def write_checksum(artifact: Path) -> str:
    """Write <artifact>.sha256 (the hex digest the roles' checksum variables read) and return it."""
    digest = hashlib.sha256(artifact.read_bytes()).hexdigest()
    artifact.with_name(artifact.name + ".sha256").write_text(digest + "\n")
    return digest
