"""Every role keeps the project's conventions: prefixed variables documented in defaults and
in meta/argument_specs.yml with the same defaults, a Molecule scenario, a README in sync."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.config import REPO
from tools.role_readme import render

ROLES = sorted(p for p in (REPO / "roles").iterdir() if p.is_dir())


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


@pytest.fixture(params=ROLES, ids=[p.name for p in ROLES])
def role(request: pytest.FixtureRequest) -> Path:
    path: Path = request.param
    return path


def test_role_has_the_standard_layout(role: Path) -> None:
    for part in (
        "defaults/main.yml",
        "meta/main.yml",
        "meta/argument_specs.yml",
        "tasks/main.yml",
        "molecule/default/molecule.yml",
        "molecule/default/converge.yml",
        "README.md",
    ):
        assert (role / part).is_file(), f"{role.name} lacks {part}"


def test_defaults_and_argument_specs_agree(role: Path) -> None:
    defaults = load(role / "defaults" / "main.yml") or {}
    options = load(role / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    assert set(defaults) == set(options)
    for name, value in defaults.items():
        assert name.startswith(f"{role.name}_"), f"{name} is not prefixed with the role name"
        assert options[name].get("default") == value, f"{name}: spec default differs"


def test_readme_is_written_from_the_argument_specs(role: Path) -> None:
    assert (role / "README.md").read_text() == render(role), "run `python -m tools.role_readme`"
