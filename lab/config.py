"""The lab's names and places: its hosts, network, images and the AWS names it stands in for
(what the project shares beyond the lab is in fleetlib)."""

from __future__ import annotations

import hashlib
import ipaddress
import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import yaml

from fleetlib.paths import CACHE, REPO
from fleetlib.wiring import wired

STATE_DIR = REPO / ".lab"
STATE_FILE = STATE_DIR / "state.json"
FACT_CACHE = CACHE / "facts"
CONTAINERS_CONF = REPO / "lab" / "containers.conf"
LAB_INVENTORY = REPO / "inventories" / "lab" / "aws_ec2.yml"
LAB_GROUP_VARS = REPO / "inventories" / "lab" / "group_vars" / "all.yml"
# Where every lab host mounts the hosts' wheels (fleetlib.paths.WHEELHOUSE) read-only: the
# roles' air-gapped install path (*_pip_find_links) without copying gigabytes into each host.
HOST_WHEELHOUSE = "/srv/wheelhouse"

PROJECT_TAG = "llm-fleet"
ENVIRONMENT_TAG = "lab"
REGION = "us-east-1"
LABEL = "io.llm-fleet.lab"
HOST_PREFIX = "llm-fleet-lab-"
# The lab's service hosts, outside the EC2 inventory (they stand in for managed AWS services):
# PostgreSQL and Redis (RDS and ElastiCache), and HAProxy (the ALB and the rag tier's internal
# load balancer). lab/playbooks/services.yml configures them.
STATE_HOST = f"{HOST_PREFIX}state"
LOAD_BALANCER_HOST = f"{HOST_PREFIX}lb"
# The organisation's OpenID Connect provider (Glewlwyd from Debian, over TLS from the lab's CA).
IDENTITY_HOST = f"{HOST_PREFIX}idp"

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
# The ALB target group (Open WebUI on every GPU host), as terraform creates it in production.
TARGET_GROUP = "llm-fleet-lab-webui"
TARGET_GROUP_PORT = int(wired("open_webui_port"))
TARGET_GROUP_ROLE = "gpu-node"


# The rag tier's internal load balancer (Chroma on every rag-node), as terraform creates it.
CHROMA_TARGET_GROUP = "llm-fleet-lab-chroma"
CHROMA_TARGET_GROUP_PORT = int(wired("chroma_port"))
CHROMA_TARGET_GROUP_ROLE = "rag-node"

IMAGE_REPO = "localhost/llm-fleet/debian12-systemd"
LATEST_IMAGE = f"{IMAGE_REPO}:latest"
# The lab's service hosts (state, load balancer, identity provider) start from the base image
# with the Debian servers that stand in for RDS, ElastiCache, the load balancers and the
# organisation's identity provider baked in.
SERVICES_IMAGE_REPO = "localhost/llm-fleet/debian12-lab-services"
SERVICES_PACKAGES = ("postgresql", "redis-server", "haproxy", "python3-psycopg2", "glewlwyd")
# The gpu-node image `lab bake` bakes from the base image (tagged with the release's bake hash).
GPU_IMAGE_REPO = "localhost/llm-fleet/gpu-node"


def image_name() -> str:
    """The base image's name; its tag changes whenever what goes into it changes."""
    recipe = " ".join((DEBIAN_SUITE, *BASE_PACKAGES)).encode()
    return f"{IMAGE_REPO}:{hashlib.sha256(recipe).hexdigest()[:12]}"


def services_image_name() -> str:
    """The service hosts' image: the base image's recipe and the packages added to it."""
    recipe = " ".join((image_name(), *SERVICES_PACKAGES)).encode()
    return f"{SERVICES_IMAGE_REPO}:{hashlib.sha256(recipe).hexdigest()[:12]}"


@dataclass(frozen=True)
class LabNetwork:
    """The lab's own podman network: fixed addresses that survive a host's stop and start."""

    name: str
    subnet: ipaddress.IPv4Network
    gateway: ipaddress.IPv4Address
    state_address: ipaddress.IPv4Address
    load_balancer_address: ipaddress.IPv4Address
    identity_address: ipaddress.IPv4Address
    first_host_address: ipaddress.IPv4Address

    def host_address(self, index: int) -> str:
        """The address of lab host number index (1, 2, ...)."""
        address = self.first_host_address + (index - 1)
        if address not in self.subnet or address == self.subnet.broadcast_address:
            raise ValueError(f"lab host {index} does not fit in {self.subnet}")
        return str(address)


def lab_var(name: str) -> Any:
    """A lab setting as inventories/lab/group_vars/all.yml writes it."""
    return (yaml.safe_load(LAB_GROUP_VARS.read_text()) or {})[name]


def lab_network() -> LabNetwork:
    """The lab network as inventories/lab/group_vars/all.yml writes it (lab_network), checked."""
    raw = lab_var("lab_network")
    subnet = ipaddress.ip_network(raw["subnet"])
    if not isinstance(subnet, ipaddress.IPv4Network):
        raise ValueError(f"{LAB_GROUP_VARS}: lab_network.subnet must be IPv4")
    addresses = {
        key: ipaddress.IPv4Address(raw[key])
        for key in (
            "gateway",
            "state_address",
            "load_balancer_address",
            "identity_address",
            "first_host_address",
        )
    }
    outside = sorted(key for key, value in addresses.items() if value not in subnet)
    if outside:
        raise ValueError(f"{LAB_GROUP_VARS}: lab_network {outside} outside {subnet}")
    return LabNetwork(name=str(raw["name"]), subnet=subnet, **addresses)


def lab_endpoint() -> str:
    """The EC2 endpoint that inventories/lab/aws_ec2.yml points at (one source of truth)."""
    data = yaml.safe_load(LAB_INVENTORY.read_text())
    return str(data["endpoint_url"])


def lab_port() -> int:
    port = urlparse(lab_endpoint()).port
    if port is None:
        raise ValueError(f"{LAB_INVENTORY}: endpoint_url has no port")
    return port


def lab_imds_endpoint() -> str:
    """The lab's instance metadata service (lab/imds.py): beside the AWS API, one port up."""
    endpoint = urlparse(lab_endpoint())
    return f"http://{endpoint.hostname}:{lab_port() + 1}"


def podman_env() -> dict[str, str]:
    env = dict(os.environ)
    env["CONTAINERS_CONF"] = str(CONTAINERS_CONF)
    return env


def identity_issuer(network: LabNetwork) -> str:
    """The lab provider's issuer URL (https, its certificate from the lab's CA)."""
    settings = lab_var("lab_identity")
    return f"https://{network.identity_address}:{settings['port']}/api/oidc"
