"""Thin wrappers over the podman CLI with the project-local containers.conf."""

from __future__ import annotations

import subprocess
import time

from fleetlib.paths import WHEELHOUSE
from lab.config import HOST_WHEELHOUSE, LABEL, LabNetwork, podman_env


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


def exists(kind: str, name: str) -> bool:
    """Whether podman has this image, network, container, ... (`podman KIND exists NAME`)."""
    proc = subprocess.run(["podman", kind, "exists", name], env=podman_env(), check=False)
    return proc.returncode == 0


def image_exists(name: str) -> bool:
    return exists("image", name)


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
    """The container's address on its podman network (a private address the controller reaches)."""
    out = podman(
        "inspect",
        "--format",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}",
        name,
    )
    addresses = out.split()
    if not addresses:
        raise PodmanError(f"{name}: no address on a podman network")
    return addresses[0]


def running(name: str) -> bool:
    return podman("inspect", "--format", "{{.State.Running}}", name).strip() == "true"


def halt(name: str, *, abrupt: bool = False, grace: int = 1) -> None:
    """Stop a lab host as an instance goes: shut down in order (`podman stop`, SIGKILL after
    `grace` seconds) or, abrupt, killed at once. podman may report an error when the container
    exits while it is being signalled ("container does not exist" from runc); what counts is
    that the host is no longer running."""
    args = ("kill", name) if abrupt else ("stop", "--time", str(grace), name)
    try:
        podman(*args)
    except PodmanError:
        if running(name):
            raise


def network_exists(name: str) -> bool:
    return exists("network", name)


def ensure_network(name: str, subnet: str, gateway: str) -> None:
    """The lab's bridge network with a fixed subnet (hosts get fixed addresses on it)."""
    if not network_exists(name):
        podman("network", "create", "--subnet", subnet, "--gateway", gateway, name)


def remove_network(name: str) -> None:
    if network_exists(name):
        podman("network", "rm", "--force", name)


def start_host(name: str, image: str, network: LabNetwork, address: str) -> None:
    """A systemd container at a fixed address on the lab network (kept across stop and start)."""
    volumes = []
    if WHEELHOUSE.is_dir():
        volumes = ["--volume", f"{WHEELHOUSE}:{HOST_WHEELHOUSE}:ro"]
    podman(
        "run",
        "--detach",
        f"--name={name}",
        f"--hostname={name}",
        f"--label={LABEL}=true",
        f"--network={network.name}",
        f"--ip={address}",
        "--systemd=always",
        *volumes,
        image,
        "/sbin/init",
    )
