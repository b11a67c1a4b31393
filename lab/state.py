"""What `lab up` started, so that `lab status` and `lab down` find it again."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from lab.config import STATE_FILE


@dataclass
class LabHost:
    name: str
    role: str
    instance_id: str
    instance_type: str
    zone: str


@dataclass
class LabState:
    endpoint: str
    moto_pid: int | None
    image: str
    hosts: list[LabHost] = field(default_factory=list)
    # The service hosts (state, load balancer): containers outside the EC2 inventory.
    services: list[str] = field(default_factory=list)
    # The instance metadata service's process (lab/imds.py).
    imds_pid: int | None = None

    def save(self) -> None:
        STATE_FILE.parent.mkdir(parents=True, exist_ok=True)
        STATE_FILE.write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls) -> LabState | None:
        if not STATE_FILE.exists():
            return None
        data = json.loads(STATE_FILE.read_text())
        hosts = [LabHost(**host) for host in data.pop("hosts")]
        return cls(hosts=hosts, **data)
