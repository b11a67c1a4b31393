"""The gpu-node image `lab bake` baked (as EC2 Image Builder bakes the fleet's): what every
gpu-node shares is in it - the services' venvs, Ollama's binary, the agents, the apply toolchain
- and nothing that belongs to one host: no machine-id, SSH host key, Ollama key, log, cloud-init
state, release, secret or service configuration. It records the bake hash the lab's release
expects. (The NVIDIA driver is left out in the lab: no GPU and no NVIDIA repository.)"""

from __future__ import annotations

import json
import subprocess

from fleetlib.wiring import wired
from lab.bake import bake_of, baked_image_name
from lab.config import STATE_DIR, podman_env
from tools.release import Built

CHECKS_TEMPLATE = r"""
echo "machine-id=[$(cat /etc/machine-id)]"
echo "ssh-host-keys=$(ls /etc/ssh/ssh_host_* 2>/dev/null | wc -l)"
echo "ollama-keys=$(find / -xdev -name 'id_ed25519*' 2>/dev/null | wc -l)"
echo "logs-with-content=$(find /var/log -type f -size +0 | wc -l)"
echo "cloud-init-state=$(ls -A /var/lib/cloud 2>/dev/null | wc -l)"
echo "releases=$(ls -A /opt/llm-fleet/releases 2>/dev/null | wc -l)"
echo "data=$(ls -A {data_dir} 2>/dev/null | wc -l)"
echo "units=$(ls /etc/systemd/system/open-webui.service /etc/systemd/system/ollama.service \
  /etc/systemd/system/fleet-rag.service 2>/dev/null | wc -l)"
echo "env-files=$(ls /etc/open-webui/*.env /etc/fleet-rag/*.env 2>/dev/null | wc -l)"
for tool in /opt/open-webui/venv/bin/open-webui /opt/fleet-rag/venv/bin/python \
    /opt/ollama/current/bin/ollama /opt/llm-fleet/venv/bin/ansible-playbook; do
  echo "installed $tool=$(test -x $tool && echo yes || echo no)"
done
echo "packages=$(dpkg-query -W -f='${Status} ${Package}\n' python3-boto3 python3-venv auditd \
  unattended-upgrades 2>/dev/null | grep -c '^install ok installed')"
echo "record=$(tr -d '\n' < /etc/llm-fleet/image.json)"
"""
CHECKS = CHECKS_TEMPLATE.replace("{data_dir}", str(wired("fleet_data_dir")))


def test_the_baked_image_holds_what_gpu_nodes_share_and_nothing_of_one_host() -> None:
    manifest = sorted((STATE_DIR / "release").glob("llm-fleet-*.manifest.json"))[-1]
    built = Built(manifest, "", manifest)
    image = baked_image_name(bake_of(built))
    shown = subprocess.run(
        ["podman", "run", "--rm", "--entrypoint", "/bin/sh", image, "-c", CHECKS],
        capture_output=True, text=True, check=True, env=podman_env(), timeout=120,
    ).stdout  # fmt: skip
    facts = dict(line.split("=", 1) for line in shown.splitlines() if "=" in line)
    assert facts["machine-id"] == "[]"  # systemd makes one at each host's first boot
    for per_host in ("ssh-host-keys", "ollama-keys", "logs-with-content", "cloud-init-state"):
        assert facts[per_host] == "0", (per_host, shown)
    for left in ("releases", "data", "units", "env-files"):
        assert facts[left] == "0", (left, shown)
    assert all(v == "yes" for k, v in facts.items() if k.startswith("installed")), shown
    assert facts["packages"] == "4", shown
    record = json.loads(facts["record"])
    assert record["bake"] == bake_of(built)
    assert set(record["inputs"]) == {"base", "files", "values", "toolchain"}
