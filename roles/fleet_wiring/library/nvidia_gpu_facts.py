#!/usr/bin/python
"""Ansible module: NVIDIA GPUs on this host, read from PCI sysfs (no driver needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: nvidia_gpu_facts
short_description: Find NVIDIA GPUs from PCI sysfs
description:
  - Lists PCI devices of vendor 0x10de whose class is a display or 3D controller, with their
    model name (from the loaded driver when there is one, else from a table of data-centre GPUs).
  - Read-only; supports check mode.
options:
  pci_root:
    description: Folder of PCI devices.
    type: path
    default: /sys/bus/pci/devices
  driver_root:
    description: Where a loaded NVIDIA driver describes its GPUs.
    type: path
    default: /proc/driver/nvidia/gpus
author: llm-fleet
"""

RETURN = r"""
gpus:
  description: One entry per GPU, sorted by PCI address.
  returned: always
  type: list
  elements: dict
  sample: [{"address": "0000:00:1e.0", "device_id": "0x2237", "model": "NVIDIA A10G"}]
"""

NVIDIA_VENDOR = "0x10de"
# PCI class 0x03xxxx: display controllers (0x0300 VGA, 0x0302 3D controller).
DISPLAY_CLASS_PREFIX = "0x03"
# The GPUs of the instance families this project provisions (and a few neighbours).
KNOWN_MODELS = {
    "0x1eb8": "NVIDIA Tesla T4",  # g4dn
    "0x2237": "NVIDIA A10G",  # g5
    "0x27b8": "NVIDIA L4",  # g6
    "0x26b9": "NVIDIA L40S",  # g6e
    "0x20b5": "NVIDIA A100 80GB PCIe",
    "0x2330": "NVIDIA H100 80GB HBM3",
    "0x2331": "NVIDIA H100 PCIe",
    "0x2335": "NVIDIA H200",
}


def read(path: Path) -> str:
    try:
        return path.read_text().strip().lower()
    except OSError:
        return ""


def driver_model(driver_root: Path, address: str) -> str:
    for line in (driver_root / address / "information").read_text().splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "Model":
            return value.strip()
    return ""


def find_gpus(pci_root: Path, driver_root: Path) -> list[dict[str, Any]]:
    gpus: list[dict[str, Any]] = []
    if not pci_root.is_dir():
        return gpus
    for device in sorted(pci_root.iterdir()):
        if read(device / "vendor") != NVIDIA_VENDOR:
            continue
        if not read(device / "class").startswith(DISPLAY_CLASS_PREFIX):
            continue  # NVIDIA audio or USB functions of the same card
        device_id = read(device / "device")
        try:
            model = driver_model(driver_root, device.name)
        except OSError:
            model = ""
        gpus.append(
            {
                "address": device.name,
                "device_id": device_id,
                "model": model or KNOWN_MODELS.get(device_id, f"NVIDIA device {device_id}"),
            }
        )
    return gpus


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "pci_root": {"type": "path", "default": "/sys/bus/pci/devices"},
            "driver_root": {"type": "path", "default": "/proc/driver/nvidia/gpus"},
        },
        supports_check_mode=True,
    )
    gpus = find_gpus(Path(module.params["pci_root"]), Path(module.params["driver_root"]))
    module.exit_json(changed=False, gpus=gpus)


if __name__ == "__main__":
    main()
