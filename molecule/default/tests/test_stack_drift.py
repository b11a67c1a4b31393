"""Drift on the whole stack: eight hand changes, each named by tools/drift.py (site.yml in
check+diff mode) run from the lab's recorded release (the one its scale-out published, fetched
from S3 and checked, as the scheduled correction does); --correct corrects the rag-node with
site.yml and the gpu-node through the rolling update (out of the target group, its roles, the
health gate, back in), then checks again, which must find nothing. Limited to the two hosts
changed (a gpu-node and the rag-node): the other gpu-node is configured alike."""

from __future__ import annotations

import json
import shlex
from typing import Any

from lab_stack import GPU_HOST, RAG_HOST, lab_host

from lab.aws import state_prefix
from lab.config import REPO, venv_bin, wired
from lab.ec2 import sdk_env
from lab.state import LabState
from tests.helpers import run_tool

REPORTS = REPO / "artifacts" / "drift"
DELETE_MODEL = (
    f"import urllib.request as u; u.urlopen(u.Request('http://127.0.0.1:{wired('ollama_port')}/api/delete',"
    " data=b'{\"model\": \"qwen2.5:0.5b\"}', method='DELETE'))"
)
# Hand changes, and the (host, task) of site.yml that must report each.
TAMPERS = [
    (
        "a sysctl changed by hand",  # lab containers cannot set sysctls: the profile is edited
        GPU_HOST,
        "sed -i 's/^vm.swappiness=.*/vm.swappiness=60/' /etc/sysctl.d/90-llm-fleet.conf",
        "kernel_tuning : Write the sysctl profile",
    ),
    (
        "a service stopped and disabled",
        RAG_HOST,
        "systemctl disable --now amazon-cloudwatch-agent.service",
        "cloudwatch_agent : Start the agent at boot",
    ),
    (
        "a unit file edited",
        GPU_HOST,
        "echo '# edited by hand' >> /etc/systemd/system/open-webui.service",
        "fleet_common : Install the unit open-webui.service",
    ),
    (
        "a secret's mode changed",
        RAG_HOST,
        "chmod 0644 /etc/chroma/token",
        "fleet_common : Keep the owner and mode of an existing secret right",
    ),
    (
        "a pre-pulled model removed",
        GPU_HOST,
        shlex.join(["python3", "-c", DELETE_MODEL]),
        "ollama : Report the models a real run would pull or remove",
    ),
    (
        "a document deleted from the RAG index",  # before the token rotation below
        RAG_HOST,
        "set -a; . /etc/fleet-rag/fleet-rag.env; set +a; "
        "runuser -u rag -- /opt/fleet-rag/venv/bin/fleet-rag delete quasar-bakery.txt",
        "chromadb_rag : Ingest the documents",
    ),
    (
        "a document the corpus does not hold put on the rag-node",
        RAG_HOST,
        f"echo 'A stray note.' > {wired('fleet_data_dir')}/documents/stray-notes.txt",
        "chromadb_rag : Remove the documents gone from the source folder",
    ),
    (
        "the Chroma token rotated by hand",
        RAG_HOST,
        "printf rotated-by-hand-0123456789 > /etc/chroma/token",
        "fleet_common : Write the environment of chroma.service",
    ),
]


def drift(*flags: str) -> int:
    state = LabState.load()
    assert state is not None, "the lab is not up"
    proc = run_tool(
        venv_bin("python"),
        "-m",
        "tools.drift",
        "-i",
        "inventories/lab",
        "--out",
        REPORTS,
        "--limit",
        f"{GPU_HOST},{RAG_HOST}",
        "--release-prefix",
        state_prefix(),
        *flags,
        timeout=1800,
        **sdk_env(state.endpoint),
    )
    print(proc.stdout[-3000:], proc.stderr[-3000:])
    return proc.returncode


def report(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((REPORTS / name).read_text())
    return data


def test_hand_changes_are_detected_then_corrected() -> None:
    for _, name, command, _ in TAMPERS:
        lab_host(name).check_output(command)
    assert drift("--fail-on-drift") == 2
    changed = {
        (host, task["task"])
        for host, result in report("drift.json")["hosts"].items()
        for task in result["changed"]
    }
    for what, name, _, task in TAMPERS:
        assert any(h == name and task in t for h, t in changed), f"{what} not reported: {changed}"
    assert "rotated-by-hand" not in json.dumps(report("drift.json")), "a secret leaked"
    assert drift("--correct") == 0
    outcome = report("result.json")
    assert outcome["release"].startswith("lab-"), outcome["release"]
    gpu_corrected = outcome["corrected"][GPU_HOST]
    for gate in ("Take the host out of the load balancer", "Put the host back"):
        assert any(task.startswith(gate) for task in gpu_corrected), gpu_corrected
    assert outcome["not_corrected"] == {}
    # The check after the correction is a drift run on a clean stack: it must find nothing.
    assert all(not host["changed"] for host in report("after.json")["hosts"].values())
    assert lab_host(RAG_HOST).service("amazon-cloudwatch-agent.service").is_enabled
    stray = lab_host(RAG_HOST).file(f"{wired('fleet_data_dir')}/documents/stray-notes.txt")
    assert not stray.exists
