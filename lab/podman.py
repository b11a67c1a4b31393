"""Thin wrappers over the podman CLI with the project-local containers.conf."""

from __future__ import annotations

import subprocess
import time

from lab.config import podman_env


class PodmanError(RuntimeError):
    pass


def podman(*args: str, check: bool = True, input_bytes: bytes | None = None) -> str:
    proc = subprocess.run(
        ["podman", *args],
        env=podman_env(),
        input=input_bytes,
        capture_output=True,
        check=False,
    )
    if check and proc.returncode != 0:
        raise PodmanError(f"podman {' '.join(args)}: {proc.stderr.decode().strip()}")
    return proc.stdout.decode()


def image_exists(name: str) -> bool:
    return (
        subprocess.run(
            ["podman", "image", "exists", name], env=podman_env(), check=False
        ).returncode
        == 0
    )


def containers_with_label(label: str) -> list[str]:
    out = podman("ps", "-a", "--filter", f"label={label}", "--format", "{{.Names}}")
    return sorted(line for line in out.splitlines() if line)


def systemd_state(name: str) -> str:
    proc = subprocess.run(
        ["podman", "exec", name, "systemctl", "is-system-running"],
        env=podman_env(),
        capture_output=True,
        check=False,
    )
    return proc.stdout.decode().strip() or "unreachable"


def wait_for_systemd(name: str, timeout: float = 90.0) -> str:
    """Wait until systemd in the container has finished booting (running or degraded)."""
    deadline = time.monotonic() + timeout
    state = "unreachable"
    while time.monotonic() < deadline:
        state = systemd_state(name)
        if state in ("running", "degraded"):
            return state
        time.sleep(1)
    raise PodmanError(f"{name}: systemd did not finish booting in {timeout:.0f}s (state: {state})")


def address(name: str) -> str:
    """The container's address on the podman bridge (a private address the controller reaches)."""
    ip = podman("inspect", "--format", "{{.NetworkSettings.IPAddress}}", name).strip()
    if not ip:
        raise PodmanError(f"{name}: no address on the podman network")
    return ip
