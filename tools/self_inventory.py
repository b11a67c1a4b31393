"""The inventory a host configures itself with: the production inventory (inventories/aws_ec2.yml)
narrowed to the host's own instance and reached locally, nothing else changed - the same plugin,
host name, groups from the same tags, and, written beside it, the same group_vars. So the
self-applied run and a run from the controller resolve the same values.

    python3 tools/self_inventory.py inventories/aws_ec2.yml i-0123456789abcdef0
writes inventories/self.aws_ec2.yml (the plugin reads only files named *aws_ec2.yml).
Standard library and PyYAML (which Ansible brings) only: it runs on the host from the release."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

SELF_NAME = "self.aws_ec2.yml"


def self_inventory(production: dict[str, Any], instance_id: str) -> dict[str, Any]:
    if not instance_id.startswith("i-"):
        raise SystemExit(f"self_inventory: {instance_id!r} is not an EC2 instance id")
    own = dict(production)
    own["filters"] = {**production.get("filters", {}), "instance-id": instance_id}
    compose = dict(production.get("compose", {}))
    compose["ansible_connection"] = "'local'"
    own["compose"] = compose
    return own


def write(production_file: Path, instance_id: str) -> Path:
    production = yaml.safe_load(production_file.read_text())
    target = production_file.with_name(SELF_NAME)
    target.write_text(
        "# Written by tools/self_inventory.py: the production inventory, this host only.\n"
        + yaml.safe_dump(self_inventory(production, instance_id), sort_keys=False)
    )
    return target


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: self_inventory.py <production aws_ec2.yml> <instance id>")
    print(write(Path(sys.argv[1]), sys.argv[2]))
