"""The wiring layer's values (roles/fleet_wiring/defaults/main/*.yml, one file per service) and
the roles' defaults, read rather than copied."""

from __future__ import annotations

from typing import Any

import yaml

from fleetlib.paths import REPO

WIRING = REPO / "roles" / "fleet_wiring" / "defaults" / "main"


def wiring_defaults() -> dict[str, Any]:
    """Every value of the wiring layer as written there (its default, before any override)."""
    merged: dict[str, Any] = {}
    for part in sorted(WIRING.glob("*.yml")):
        merged.update(yaml.safe_load(part.read_text()) or {})
    return merged


def wired(name: str) -> Any:
    """A value of the wiring layer as written there (its default, before any override)."""
    values = wiring_defaults()
    if name not in values:
        raise KeyError(f"{name} is not a value of the wiring layer ({WIRING})")
    return values[name]


def wired_file(name: str) -> dict[str, Any]:
    """One file of the wiring layer (roles/fleet_wiring/defaults/main/<name>.yml)."""
    values: dict[str, Any] = yaml.safe_load((WIRING / f"{name}.yml").read_text()) or {}
    return values


def templated(variables: dict[str, Any], name: str) -> Any:
    """What Ansible makes of one variable among these (its Jinja rendered as a play would)."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar, trust_as_template

    trusted = {k: trust_as_template(v) if isinstance(v, str) else v for k, v in variables.items()}
    return Templar(loader=DataLoader(), variables=trusted).template(
        trust_as_template("{{ " + name + " }}")
    )


def role_default(role: str, name: str) -> Any:
    """A role's default, as written in its defaults/main.yml."""
    defaults = yaml.safe_load((REPO / "roles" / role / "defaults" / "main.yml").read_text())
    return defaults[name]


def admin_email() -> str:
    """The fleet's first admin, as the open_webui role bootstraps it (its default; the lab
    inventory keeps it)."""
    email: str = role_default("open_webui", "open_webui_admin_email")
    return email
