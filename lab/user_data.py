"""The launch template's user data, rendered as terraform's templatefile() renders it (the
template uses plain ${name} interpolations only), so that a lab host runs the very script an
instance the auto scaling group launches runs."""

from __future__ import annotations

import re
from pathlib import Path

from fleetlib.paths import REPO
from fleetlib.wiring import wired

TEMPLATE = REPO / "terraform" / "modules" / "fleet" / "user_data.sh.tftpl"
HOST_APPLY = REPO / "tools" / "host_apply.py"
# EC2's limit on user data (before base64).
USER_DATA_LIMIT = 16 * 1024
_NAME = re.compile(r"\$\{([a-z_]+)\}")


def render(values: dict[str, str], template: Path = TEMPLATE) -> str:
    """${name} replaced by values[name]; a name the template uses but values lacks is an error,
    as in terraform, and so is any other template syntax (directives, expressions)."""
    text = template.read_text()
    if "%{" in text or re.search(r"\$\{(?![a-z_]+\})", text):
        raise ValueError(f"{template.name} uses template syntax beyond ${{name}}")
    missing = sorted(set(_NAME.findall(text)) - set(values))
    if missing:
        raise KeyError(f"{template.name} needs {', '.join(missing)}")
    return _NAME.sub(lambda match: values[match.group(1)], text)


def fleet_values(
    hook_name: str, data_volume: bool, inventory: str = "inventories/aws_ec2.yml"
) -> dict[str, str]:
    """What modules/fleet passes: the wiring's folders, the hook, the host_apply script and the
    inventory in the release (the lab: no hook, no data volume, its own inventory)."""
    return {
        "inventory": inventory,
        "data_label": "llmfleet-data",
        "data_dir": str(wired("fleet_data_dir")),
        "data_volume": "true" if data_volume else "false",
        "log_dir": str(wired("fleet_log_dir")),
        "hook_name": hook_name,
        "host_apply": HOST_APPLY.read_text(),
    }
