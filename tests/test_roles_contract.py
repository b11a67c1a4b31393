"""Every role keeps the project's conventions: prefixed variables documented in defaults and
in meta/argument_specs.yml with the same defaults, a Molecule scenario, a README in sync. The
values a role takes from the wiring layer (roles/fleet_wiring) are documented as required
inputs and never redefined in the role's defaults, where they would shadow the wiring."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from fleetlib.paths import REPO
from fleetlib.wiring import wiring_defaults
from maintenance.role_readme import render

ROLES = sorted(p for p in (REPO / "roles").iterdir() if p.is_dir())


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def defaults_of(role: Path) -> dict[str, Any]:
    """defaults/main.yml, or every file of defaults/main/ (one per service in the wiring)."""
    single = role / "defaults" / "main.yml"
    if single.is_file():
        return load(single) or {}
    merged: dict[str, Any] = {}
    for part in sorted((role / "defaults" / "main").glob("*.yml")):
        merged.update(load(part) or {})
    return merged


WIRING = REPO / "roles" / "fleet_wiring"
WIRED = wiring_defaults()


@pytest.fixture(params=ROLES, ids=[p.name for p in ROLES])
def role(request: pytest.FixtureRequest) -> Path:
    path: Path = request.param
    return path


def test_role_has_the_standard_layout(role: Path) -> None:
    defaults = "defaults/main" if role == WIRING else "defaults/main.yml"
    for part in (
        defaults,
        "meta/main.yml",
        "meta/argument_specs.yml",
        "tasks/main.yml",
        "README.md",
    ):
        assert (role / part).exists(), f"{role.name} lacks {part}"
    if role != WIRING:  # the wiring has no Molecule scenario: every other scenario uses it
        assert (role / "molecule/default/molecule.yml").is_file()
        assert (role / "molecule/default/converge.yml").is_file()


def test_defaults_and_argument_specs_agree(role: Path) -> None:
    defaults = defaults_of(role)
    options = load(role / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    wired_inputs = {name for name, option in options.items() if name not in defaults}
    assert set(defaults) <= set(options), f"undocumented: {set(defaults) - set(options)}"
    for name in wired_inputs:
        assert name in WIRED, f"{name} is documented but has no default and is not wired"
        assert options[name].get("required") is True, f"{name}: a wired input is required"
        assert "default" not in options[name], f"{name}: the wiring holds its value"
    if role != WIRING:
        shadowing = set(defaults) & set(WIRED)
        assert not shadowing, f"{role.name} redefines wired values {shadowing}"
    for name, value in defaults.items():
        assert options[name].get("default") == value, f"{name}: spec default differs"


def test_variables_are_prefixed_by_their_owner(role: Path) -> None:
    if role == WIRING:
        # One file per service: each value is named after the service whose file holds it.
        for part in (role / "defaults" / "main").glob("*.yml"):
            for name in load(part) or {}:
                assert name.startswith(f"{part.stem}_"), f"{part.name}: {name}"
        return
    for name in defaults_of(role):
        assert name.startswith(f"{role.name}_"), f"{name} is not prefixed with the role name"


def test_readme_is_written_from_the_argument_specs(role: Path) -> None:
    assert (role / "README.md").read_text() == render(role), (
        "run `python -m maintenance.role_readme`"
    )
