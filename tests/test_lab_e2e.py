"""End to end on the lab: `lab up`, site.yml twice (the second run changes nothing), `lab down`
leaves no container, process or network namespace behind. Timings go to artifacts/."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from lab.config import LABEL, REPO, STATE_FILE, lab_port, venv_bin
from lab.ec2 import port_is_open
from lab.podman import containers_with_label, podman
from tests.helpers import inventory_list, recap, run_tool

pytestmark = pytest.mark.lab
TIMINGS: dict[str, float] = {}


def netns() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    return {line.split()[0] for line in out.stdout.splitlines() if line.strip()}


def lab(*args: str) -> subprocess.CompletedProcess[str]:
    return run_tool(venv_bin("python"), "-m", "lab", *args, timeout=600)


def site() -> subprocess.CompletedProcess[str]:
    return run_tool(venv_bin("ansible-playbook"), "-i", "inventories/lab", "site.yml")


@pytest.fixture(scope="module")
def lab_up() -> Iterator[set[str]]:
    if STATE_FILE.exists() or port_is_open(lab_port()):
        pytest.skip("a lab is already up on this machine; `python -m lab down` first")
    namespaces_before = netns()
    started = time.monotonic()
    proc = lab("up", "--hosts", "2")
    TIMINGS["lab_up_s"] = time.monotonic() - started
    assert proc.returncode == 0, proc.stdout + proc.stderr
    yield namespaces_before
    lab("down")


def test_inventory_sees_the_lab_hosts(lab_up: set[str]) -> None:
    inventory = inventory_list(REPO / "inventories" / "lab")
    assert inventory["role_gpu_node"]["hosts"] == ["llm-fleet-lab-1"]
    assert inventory["role_rag_node"]["hosts"] == ["llm-fleet-lab-2"]


def test_site_converges_then_changes_nothing(lab_up: set[str]) -> None:
    started = time.monotonic()
    first = site()
    TIMINGS["converge_s"] = time.monotonic() - started
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr
    started = time.monotonic()
    second = site()
    TIMINGS["rerun_s"] = time.monotonic() - started
    assert second.returncode == 0, second.stdout[-4000:] + second.stderr
    counters = recap(second.stdout)
    assert set(counters) == {"llm-fleet-lab-1", "llm-fleet-lab-2"}
    assert all(c["changed"] == 0 and c["failed"] == 0 for c in counters.values()), counters


def drift(*flags: str) -> subprocess.CompletedProcess[str]:
    return run_tool(
        venv_bin("python"),
        "-m",
        "tools.drift",
        "-i",
        "inventories/lab",
        "--out",
        REPO / "artifacts" / "drift",
        *flags,
        timeout=1800,
    )


def drift_report(name: str = "drift.json") -> dict[str, Any]:
    report: dict[str, Any] = json.loads((REPO / "artifacts" / "drift" / name).read_text())
    return report


DELETE_MODEL = (
    "import urllib.request as u; u.urlopen(u.Request('http://127.0.0.1:11434/api/delete',"
    " data=b'{\"model\": \"qwen2.5:0.5b\"}', method='DELETE'))"
)
# Hand changes on the lab, and the task of site.yml that must report each (host, task).
TAMPERS = [
    (
        "a sysctl changed by hand",
        [
            "llm-fleet-lab-1",
            "sed",
            "-i",
            "s/^vm.swappiness=.*/vm.swappiness=60/",
            "/etc/sysctl.d/90-llm-fleet.conf",
        ],
        ("llm-fleet-lab-1", "kernel_tuning : Write the sysctl profile"),
    ),
    (
        "a service stopped and disabled",
        ["llm-fleet-lab-2", "systemctl", "disable", "--now", "amazon-cloudwatch-agent.service"],
        ("llm-fleet-lab-2", "cloudwatch_agent : Start the agent at boot"),
    ),
    (
        "a unit file edited",
        [
            "llm-fleet-lab-1",
            "sh",
            "-c",
            "echo '# edited by hand' >> /etc/systemd/system/open-webui.service",
        ],
        ("llm-fleet-lab-1", "open_webui : Install the Open WebUI unit"),
    ),
    (
        "a secret's mode changed",
        ["llm-fleet-lab-2", "chmod", "0644", "/etc/chroma/token"],
        ("llm-fleet-lab-2", "fleet_common : Keep the owner and mode of an existing secret right"),
    ),
    (
        "a pre-pulled model removed",
        ["llm-fleet-lab-1", "python3", "-c", DELETE_MODEL],
        ("llm-fleet-lab-1", "ollama : Report the models a real run would pull or remove"),
    ),
    (
        "the Chroma token rotated by hand",
        ["llm-fleet-lab-2", "sh", "-c", "printf rotated-by-hand-0123456789 > /etc/chroma/token"],
        ("llm-fleet-lab-2", "chromadb_rag : Write Chroma's settings"),
    ),
]


def test_hand_changes_are_detected_then_corrected(lab_up: set[str]) -> None:
    """tools/drift.py: site.yml in check+diff mode names each hand change; --correct applies
    site.yml and checks again, which must find no difference at all."""
    for _, command, _ in TAMPERS:
        podman("exec", *command)
    started = time.monotonic()
    detect = drift("--fail-on-drift")
    TIMINGS["drift_detect_s"] = time.monotonic() - started
    assert detect.returncode == 2, detect.stdout + detect.stderr
    changed = {
        (host, task["task"])
        for host, result in drift_report()["hosts"].items()
        for task in result["changed"]
    }
    for what, _, (host, task) in TAMPERS:
        assert any(h == host and task in t for h, t in changed), f"{what} not reported: {changed}"
    assert "rotated-by-hand" not in json.dumps(drift_report()), "a secret leaked into the report"
    started = time.monotonic()
    correct = drift("--correct")
    TIMINGS["drift_correct_s"] = time.monotonic() - started
    assert correct.returncode == 0, correct.stdout + correct.stderr
    assert all(not h["changed"] for h in drift_report("after.json")["hosts"].values())
    assert podman(
        "exec", "llm-fleet-lab-1", "systemctl", "is-enabled", "ollama.service"
    ).strip() == ("enabled")


CALL = """
import json, sys, urllib.request, urllib.error
method, url, token, body = sys.argv[1:5]
request = urllib.request.Request(url, method=method, data=body.encode() if body else None)
request.add_header("Content-Type", "application/json")
if token:
    request.add_header("Authorization", "Bearer " + token)
with urllib.request.urlopen(request, timeout=300) as response:
    print(response.read().decode())
"""


def on_host(host: str, method: str, url: str, token: str = "", body: object = None) -> Any:
    """Call an HTTP API from inside a lab host (the services listen on its loopback)."""
    payload = json.dumps(body) if body is not None else ""
    out = podman("exec", host, "python3", "-c", CALL, method, url, token, payload)
    return json.loads(out)


@pytest.fixture(scope="module")
def webui_token(lab_up: set[str]) -> str:
    password = podman("exec", "llm-fleet-lab-1", "cat", "/etc/open-webui/admin-password").strip()
    signin = on_host(
        "llm-fleet-lab-1",
        "POST",
        "http://127.0.0.1:8080/api/v1/auths/signin",
        body={"email": "admin@llm-fleet.local", "password": password},
    )
    assert signin["role"] == "admin"
    return str(signin["token"])


def test_open_webui_chat_completion_from_the_ollama_stand_in(webui_token: str) -> None:
    """Through Open WebUI's API with the bootstrapped admin, answered by the Ollama
    TEST STAND-IN (not Ollama)."""
    reply = on_host(
        "llm-fleet-lab-1",
        "POST",
        "http://127.0.0.1:8080/api/chat/completions",
        webui_token,
        {
            "model": "llama3.2:1b",
            "stream": False,
            "messages": [{"role": "user", "content": "Hello fleet"}],
        },
    )
    assert reply["choices"][0]["message"]["content"] == (
        "Stand-in answer from llama3.2:1b to: Hello fleet"
    )


def test_rag_model_through_open_webui_cites_the_right_file_and_page(webui_token: str) -> None:
    models = on_host("llm-fleet-lab-1", "GET", "http://127.0.0.1:8080/api/models", webui_token)
    assert "fleet-rag" in [m["id"] for m in models["data"]]
    question = "How often is the Aurora turbine maintained?"
    reply = on_host(
        "llm-fleet-lab-1",
        "POST",
        "http://127.0.0.1:8080/api/chat/completions",
        webui_token,
        {
            "model": "fleet-rag",
            "stream": False,
            "messages": [{"role": "user", "content": question}],
        },
    )
    content = reply["choices"][0]["message"]["content"]
    assert "every ninety days" in content
    assert "Sources:\n1. aurora-operations.pdf (page 2)" in content


def test_services_log_to_files_the_cloudwatch_agent_stand_in_tails(lab_up: set[str]) -> None:
    """Every host runs the CloudWatch agent TEST STAND-IN (not the agent) on the config the role
    validated; the services' output is in the files it ships (after the chats above)."""
    for host in ("llm-fleet-lab-1", "llm-fleet-lab-2"):
        status = json.loads(
            podman(
                "exec",
                host,
                "/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl",
                "-a",
                "status",
            )
        )
        assert status["status"] == "running" and status["configstatus"] == "configured"
    webui_log = podman("exec", "llm-fleet-lab-1", "cat", "/var/log/llm-fleet/open-webui.log")
    assert "POST /api/chat/completions" in webui_log
    rag_log = podman("exec", "llm-fleet-lab-2", "cat", "/var/log/llm-fleet/fleet-rag.log")
    assert rag_log.strip(), "fleet-rag writes to its log file"
    agent_log = podman(
        "exec",
        "llm-fleet-lab-1",
        "cat",
        "/opt/aws/amazon-cloudwatch-agent/logs/amazon-cloudwatch-agent.log",
    )
    assert "would tail /var/log/llm-fleet/ollama.log (present)" in agent_log


def test_lab_status_reports_healthy(lab_up: set[str]) -> None:
    proc = lab("status")
    assert proc.returncode == 0, proc.stdout
    assert proc.stdout.count("running") + proc.stdout.count("degraded") >= 2


def test_lab_down_leaves_nothing_behind(lab_up: set[str]) -> None:
    proc = lab("down")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert containers_with_label(LABEL) == []
    assert not port_is_open(lab_port())
    assert not STATE_FILE.exists()
    leftovers = subprocess.run(
        ["pgrep", "-f", f"moto_server -H 127.0.0.1 -p {lab_port()}|llm-fleet-lab-"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert leftovers.stdout == "", leftovers.stdout
    assert netns() <= lab_up  # every namespace the hosts had is gone
    artifacts = REPO / "artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "lab-timings.json").write_text(json.dumps(TIMINGS, indent=2) + "\n")
    print("lab timings:", json.dumps(TIMINGS))
