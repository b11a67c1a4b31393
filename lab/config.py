"""Names and paths the lab shares with the inventory, Molecule and the tests."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

REPO = Path(__file__).resolve().parent.parent
STATE_DIR = REPO / ".lab"
STATE_FILE = STATE_DIR / "state.json"
FACT_CACHE = REPO / ".cache" / "facts"
CONTAINERS_CONF = REPO / "lab" / "containers.conf"
LAB_INVENTORY = REPO / "inventories" / "lab" / "aws_ec2.yml"
# Host-side wheels (`make wheelhouse`), mounted read-only into every lab host: the roles'
# air-gapped install path (*_pip_find_links) without copying gigabytes into each host.
WHEELHOUSE = REPO / ".cache" / "wheelhouse"
HOST_WHEELHOUSE = "/srv/wheelhouse"

PROJECT_TAG = "llm-fleet"
ENVIRONMENT_TAG = "lab"
REGION = "us-east-1"
LABEL = "io.llm-fleet.lab"
HOST_PREFIX = "llm-fleet-lab-"

# Packages baked into the base image: systemd as PID 1, Python for Ansible (python3-apt for
# the apt module), and the few tools every role expects on a Debian host.
BASE_PACKAGES = (
    "systemd",
    "systemd-sysv",
    "dbus",
    "python3",
    "python3-apt",
    "iproute2",
    "procps",
    "ca-certificates",
)
DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = os.environ.get("LAB_DEBIAN_MIRROR", "http://deb.debian.org/debian")

# Instance shape per lab role: what terraform launches for that role in production. A base-node
# gets only the fleet-wide roles (kernel_tuning, cloudwatch_agent): the fleet benchmark scales
# out with those, as 16 full-stack hosts do not fit on one small machine.
ROLE_INSTANCE_TYPES = {
    "gpu-node": "g5.xlarge",
    "rag-node": "g4dn.xlarge",
    "base-node": "g4dn.xlarge",
}
AVAILABILITY_ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")
# The wiring layer's values (one file per service), which the lab and the tests read rather than
# copy: ports, folders.
WIRING = REPO / "roles" / "fleet_wiring" / "defaults" / "main"


def wired(name: str) -> Any:
    """A value of the wiring layer as written there (its default, before any override)."""
    for part in sorted(WIRING.glob("*.yml")):
        values = yaml.safe_load(part.read_text()) or {}
        if name in values:
            return values[name]
    raise KeyError(f"{name} is not a value of the wiring layer ({WIRING})")


# The ALB target group (Open WebUI on every GPU host), as terraform creates it in production.
TARGET_GROUP = "llm-fleet-lab-webui"
TARGET_GROUP_PORT = int(wired("open_webui_port"))
TARGET_GROUP_ROLE = "gpu-node"


IMAGE_REPO = "localhost/llm-fleet/debian12-systemd"
LATEST_IMAGE = f"{IMAGE_REPO}:latest"


def image_name() -> str:
    """The base image's name; its tag changes whenever what goes into it changes."""
    recipe = " ".join((DEBIAN_SUITE, *BASE_PACKAGES)).encode()
    return f"{IMAGE_REPO}:{hashlib.sha256(recipe).hexdigest()[:12]}"


def lab_endpoint() -> str:
    """The EC2 endpoint that inventories/lab/aws_ec2.yml points at (one source of truth)."""
    data = yaml.safe_load(LAB_INVENTORY.read_text())
    return str(data["endpoint_url"])


def lab_port() -> int:
    port = urlparse(lab_endpoint()).port
    if port is None:
        raise ValueError(f"{LAB_INVENTORY}: endpoint_url has no port")
    return port


def venv_bin(name: str) -> Path:
    """A console script installed beside the running interpreter (the project venv)."""
    return Path(sys.executable).parent / name


def podman_env() -> dict[str, str]:
    env = dict(os.environ)
    env["CONTAINERS_CONF"] = str(CONTAINERS_CONF)
    return env
