"""nvidia_cuda without a GPU here: its detection module run by Ansible over PCI sysfs trees laid
out like g4dn/g5 hosts, the install plan per distribution (check-able form), nvidia-smi parsing."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from fleetlib.paths import REPO, venv_bin
from tests.helpers import run_tool

ROLE = REPO / "roles" / "nvidia_cuda"
UBUNTU_2204 = {
    "distribution": "Ubuntu",
    "distribution_version": "22.04",
    "distribution_major_version": "22",
    "distribution_release": "jammy",
    "kernel": "6.8.0-1015-aws",
}
UBUNTU_2404 = {**UBUNTU_2204, "distribution_version": "24.04", "distribution_major_version": "24"}
DEBIAN_12 = {
    "distribution": "Debian",
    "distribution_version": "12.12",
    "distribution_major_version": "12",
    "distribution_release": "bookworm",
    "kernel": "6.1.0-40-cloud-amd64",
}


def pci_device(root: Path, address: str, vendor: str, device: str, klass: str) -> None:
    folder = root / address
    folder.mkdir(parents=True)
    for name, value in (("vendor", vendor), ("device", device), ("class", klass)):
        (folder / name).write_text(value + "\n")


def detect(pci_root: Path, driver_root: Path) -> list[dict[str, Any]]:
    proc = run_tool(
        venv_bin("ansible"),
        "localhost",
        "-i",
        "localhost,",
        "-c",
        "local",
        "-e",
        f"ansible_python_interpreter={venv_bin('python')}",
        "-m",
        "nvidia_gpu_facts",
        "-a",
        f"pci_root={pci_root} driver_root={driver_root}",
        "-o",
        ANSIBLE_LIBRARY=str(REPO / "roles" / "fleet_wiring" / "library"),
        ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
        ANSIBLE_STDOUT_CALLBACK="ansible.builtin.minimal",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout.split("=>", 1)[1])
    assert result["changed"] is False
    gpus: list[dict[str, Any]] = result["gpus"]
    return gpus


def test_detection_finds_the_gpus_and_not_their_other_functions(tmp_path: Path) -> None:
    pci = tmp_path / "pci"
    pci_device(pci, "0000:00:00.0", "0x8086", "0x1237", "0x060000")  # host bridge
    pci_device(pci, "0000:00:1e.0", "0x10de", "0x1eb8", "0x030200")  # T4 (g4dn)
    pci_device(pci, "0000:00:1e.1", "0x10de", "0x10f8", "0x040300")  # the card's audio function
    pci_device(pci, "0000:00:1f.0", "0x10de", "0x2237", "0x030200")  # A10G (g5)
    driver = tmp_path / "driver" / "0000:00:1f.0"
    driver.mkdir(parents=True)
    (driver / "information").write_text("Model: \t\t NVIDIA A10G (driver)\nIRQ:   42\n")
    assert detect(pci, tmp_path / "driver") == [
        {"address": "0000:00:1e.0", "device_id": "0x1eb8", "model": "NVIDIA Tesla T4"},
        {"address": "0000:00:1f.0", "device_id": "0x2237", "model": "NVIDIA A10G (driver)"},
    ]


def test_detection_on_a_host_without_gpus_finds_none(tmp_path: Path) -> None:
    pci = tmp_path / "pci"
    pci_device(pci, "0000:00:00.0", "0x8086", "0x1237", "0x060000")
    assert detect(pci, tmp_path / "no-driver") == []
    assert detect(tmp_path / "no-pci-bus", tmp_path / "no-driver") == []


def plan(tmp_path: Path, facts: dict[str, str], **settings: Any) -> tuple[int, Any]:
    dest = tmp_path / "plan.json"
    proc = run_tool(
        venv_bin("ansible-playbook"),
        "-i",
        "localhost,",
        REPO / "tests/playbooks/render_nvidia_cuda_plan.yml",
        "-e",
        json.dumps({"dest": str(dest), "distribution": facts, **settings}),
        timeout=300,
    )
    if proc.returncode != 0:
        return proc.returncode, proc.stdout
    return 0, json.loads(dest.read_text())


@pytest.mark.parametrize(
    ("facts", "distro", "headers"),
    [
        (DEBIAN_12, "debian12", "linux-headers-cloud-amd64"),
        (UBUNTU_2204, "ubuntu2204", "linux-headers-aws"),
        (UBUNTU_2404, "ubuntu2404", "linux-headers-aws"),
    ],
)
def test_plan_uses_nvidias_repository_for_the_distribution(
    tmp_path: Path, facts: dict[str, str], distro: str, headers: str
) -> None:
    """The running kernel's headers and the metapackage of its flavour, which follows the kernel:
    a kernel unattended upgrades install brings its headers, so DKMS builds the driver for it."""
    rc, result = plan(tmp_path, facts)
    assert rc == 0, result
    assert result == {
        "source": "nvidia",
        "repo_url": f"https://developer.download.nvidia.com/compute/cuda/repos/{distro}/x86_64/",
        "pin": "580.*",
        "packages": [f"linux-headers-{facts['kernel']}", headers, "nvidia-open"],
    }


def test_plan_with_proprietary_modules_cuda_and_the_container_toolkit(tmp_path: Path) -> None:
    rc, result = plan(
        tmp_path,
        UBUNTU_2404,
        nvidia_cuda_open_kernel_modules=False,
        nvidia_cuda_toolkit=True,
        nvidia_cuda_toolkit_version="13-0",
        nvidia_cuda_container_toolkit=True,
        nvidia_cuda_driver_branch="575",
    )
    assert rc == 0, result
    assert result["pin"] == "575.*"
    assert result["packages"] == [
        "linux-headers-6.8.0-1015-aws",
        "linux-headers-aws",
        "cuda-drivers",
        "cuda-toolkit-13-0",
        "nvidia-container-toolkit",
    ]


def test_plan_from_debians_own_packages(tmp_path: Path) -> None:
    rc, result = plan(tmp_path, DEBIAN_12, nvidia_cuda_driver_source="debian")
    assert rc == 0, result
    assert result["repo_url"] == "http://deb.debian.org/debian"
    assert result["pin"] == ""
    assert result["packages"] == [
        "linux-headers-6.1.0-40-cloud-amd64",
        "linux-headers-cloud-amd64",
        "nvidia-open-kernel-dkms",
        "nvidia-driver",
        "firmware-misc-nonfree",
        "nvidia-persistenced",
        "nvidia-modprobe",  # /dev/nvidia-uvm at boot (nvidia-uvm-devices.service)
    ]


@pytest.mark.parametrize(
    ("facts", "settings", "message"),
    [
        ({**UBUNTU_2204, "distribution_version": "20.04"}, {}, "ubuntu2004 with source nvidia"),
        (UBUNTU_2204, {"nvidia_cuda_driver_source": "debian"}, "for debian12 only"),
        ({**DEBIAN_12, "distribution": "Fedora"}, {}, "Fedora is not supported"),
    ],
)
def test_unsupported_plans_are_refused_clearly(
    tmp_path: Path, facts: dict[str, str], settings: dict[str, str], message: str
) -> None:
    rc, output = plan(tmp_path, facts, **settings)
    assert rc != 0
    assert message in " ".join(output.split())


def test_nvidia_smi_rows_become_gpu_facts() -> None:
    spec = importlib.util.spec_from_file_location(
        "nvidia_cuda_filters", ROLE / "filter_plugins" / "nvidia_cuda.py"
    )
    assert spec and spec.loader
    filters = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(filters)
    rows = ["NVIDIA A10G, 580.95.05, 23028", "NVIDIA A10G, 580.95.05, 23028", ""]
    assert (
        filters.nvidia_smi_gpus(rows)
        == [{"name": "NVIDIA A10G", "driver_version": "580.95.05", "memory_mib": 23028}] * 2
    )
    with pytest.raises(ValueError, match="unexpected nvidia-smi line"):
        filters.nvidia_smi_gpus(["NVIDIA A10G 23028"])
