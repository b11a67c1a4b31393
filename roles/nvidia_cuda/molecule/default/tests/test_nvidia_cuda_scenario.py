"""nvidia_cuda on a host without a GPU (the lab): found none, installed nothing, changed nothing."""

from __future__ import annotations

from testinfra.host import Host


def test_no_repository_or_pin_was_added(host: Host) -> None:
    assert not host.file("/etc/apt/sources.list.d/llm-fleet-nvidia-cuda.sources").exists
    assert not host.file("/etc/apt/preferences.d/llm-fleet-nvidia-driver").exists
    assert not host.file("/usr/share/keyrings/llm-fleet-nvidia-cuda.asc").exists


def test_nouveau_was_left_alone_and_no_driver_installed(host: Host) -> None:
    assert not host.file("/etc/modprobe.d/llm-fleet-blacklist-nouveau.conf").exists
    assert not host.package("nvidia-open").is_installed
    assert not host.exists("nvidia-smi")


def test_the_host_really_has_no_nvidia_pci_device(host: Host) -> None:
    vendors = host.run("cat /sys/bus/pci/devices/*/vendor").stdout.split()
    assert "0x10de" not in vendors
