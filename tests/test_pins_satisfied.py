"""fleet_common's pins check (files/pins_satisfied.py), run by the venv's own interpreter: only
plain name==version pins already installed skip `pip install`; anything else installs."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

import pytest

from fleetlib.paths import REPO

SCRIPT = REPO / "roles" / "fleet_common" / "files" / "pins_satisfied.py"
PYYAML = metadata.version("PyYAML")


def answer(*specs: str) -> str:
    proc = subprocess.run(
        [sys.executable, SCRIPT, *specs], capture_output=True, text=True, check=True
    )
    return proc.stdout.strip()


@pytest.mark.parametrize(
    ("specs", "expected"),
    [
        ([f"PyYAML=={PYYAML}"], "satisfied"),
        ([f"pyyaml=={PYYAML}", f"pytest=={metadata.version('pytest')}"], "satisfied"),
        ([f"PyYAML[extra]=={PYYAML}"], "satisfied"),
        (["PyYAML==0.0.1"], "install"),  # another version
        ([f"PyYAML=={PYYAML}", "no-such-package-here==1.0"], "install"),  # one missing
        (["PyYAML>=1"], "install"),  # not a plain pin: let pip decide
        (["/srv/source/fleet-rag.tar.gz"], "install"),
    ],
)
def test_only_installed_plain_pins_are_satisfied(specs: list[str], expected: str) -> None:
    assert answer(*specs) == expected
