"""The stack site.yml built on the lab: inventory groups from the EC2 tags, every service up on
the hosts its role tag asks for (the rag-node holds the fleet's one Chroma; the gpu-nodes none),
Open WebUI and Chroma on private addresses only, a chat answered by the Ollama TEST STAND-IN (not
Ollama) through the load balancer, a grounded answer from fleet-rag, logs for the agent."""

from __future__ import annotations

import json
from pathlib import Path

from lab_stack import (
    GPU_HOST,
    OTHER_GPU_HOST,
    RAG_HOST,
    RAG_QUESTION,
    RAG_SOURCE,
    answer_text,
    api,
    chat,
    lab_host,
)

from fleetlib.paths import REPO, venv_bin
from fleetlib.wiring import role_default, wired
from lab.aws import client, state_prefix
from lab.config import LOAD_BALANCER_HOST, STATE_DIR, STATE_HOST
from lab.podman import address, systemd_state
from lab.state import LabState
from tests.helpers import inventory_list, memory_limits, run_tool
from tools.host_apply import release_parameter

GPU_SERVICES = ["ollama", "open-webui", "fleet-rag", "amazon-cloudwatch-agent"]
SERVICES = {
    GPU_HOST: GPU_SERVICES,
    OTHER_GPU_HOST: GPU_SERVICES,
    RAG_HOST: ["chroma", "fleet-rag", "amazon-cloudwatch-agent"],
}


def test_inventory_groups_the_hosts_by_their_ec2_tags() -> None:
    inventory = inventory_list(REPO / "inventories" / "lab")
    # The plugin lists a group's hosts in no fixed order.
    assert sorted(inventory["role_gpu_node"]["hosts"]) == [GPU_HOST, OTHER_GPU_HOST]
    assert inventory["role_rag_node"]["hosts"] == [RAG_HOST]
    assert set(inventory["env_lab"]["hosts"]) == {GPU_HOST, RAG_HOST, OTHER_GPU_HOST}


def test_the_second_gpu_node_configured_itself_from_the_published_release() -> None:
    """OTHER_GPU_HOST was launched as the auto scaling group launches a host (lab scale), from
    the baked gpu-node image: its user data fetched the thin release the SSM parameter names
    (its image's bake hash is the release's), checked it, and applied site.yml to itself with
    the toolchain the image holds - the version it applied is the published one, its log says
    what it did and how long each step took. (The idempotence run's site.yml from the
    controller changed nothing on it; the other tests use it as any gpu-node.)"""
    state = LabState.load()
    assert state is not None
    published = client("ssm", state.endpoint).get_parameter(Name=release_parameter(state_prefix()))[
        "Parameter"
    ]["Value"]
    host = lab_host(OTHER_GPU_HOST)
    applied = json.loads(host.file("/opt/llm-fleet/applied.json").content_string)
    image = applied.pop("image")
    assert applied == json.loads(published)
    assert image["release"] == "thin" and image["image"] == image["expected"] == applied["bake"]
    outcome = json.loads(
        (STATE_DIR / f"user-data-{OTHER_GPU_HOST}.log").read_text().strip().splitlines()[-1]
    )
    assert outcome["result"] == "CONTINUE" and outcome["version"] == applied["version"]
    assert {"release", "fetch", "converge"} <= set(outcome["steps"])
    assert "toolchain" not in outcome["steps"]  # the image's
    log = host.file(f"{wired('fleet_log_dir')}/llm-fleet-apply.log").content_string
    assert "converge: started" in log and "no launch lifecycle hook" in log
    assert "this host's image matches the release" in log
    # Its models came from the fleet's S3 mirror (which lab scale filled from GPU_HOST's, as the
    # deploy fills it from Ollama's registry), none from a pull.
    converge = (STATE_DIR / f"user-data-{OTHER_GPU_HOST}.log").read_text()
    assert task_result(converge, "Copy the models from the mirror") == "changed"
    assert task_result(converge, "Pull the models that are missing") in ("skipping", "ok", "")


def task_result(output: str, task: str) -> str:
    """The first result word (changed, ok, skipping) of a task in ansible-playbook's output."""
    _, _, after = output.partition(task)
    for line in after.splitlines()[1:]:
        if line.startswith("TASK ["):
            return ""
        for word in ("changed", "ok", "skipping", "failed", "fatal"):
            if line.startswith(f"{word}:"):
                return word
    return ""


def test_each_host_runs_the_services_of_its_role() -> None:
    for name, services in SERVICES.items():
        host = lab_host(name)
        for service in services:
            unit = host.service(f"{service}.service")
            assert unit.is_running and unit.is_enabled, f"{name}: {service}"
    assert not lab_host(RAG_HOST).service("open-webui.service").is_running
    for name in (GPU_HOST, OTHER_GPU_HOST):  # the fleet's one vector store is the rag-node's
        assert not lab_host(name).service("chroma.service").is_running


def test_services_listen_on_private_addresses_or_loopback_only() -> None:
    host = lab_host(GPU_HOST)
    webui = wired("open_webui_port")
    assert host.socket(f"tcp://{address(GPU_HOST)}:{webui}").is_listening
    assert not host.socket(f"tcp://0.0.0.0:{webui}").is_listening
    for service in ("ollama", "fleet_rag"):  # loopback only
        port = wired(f"{service}_port")
        assert host.socket(f"tcp://127.0.0.1:{port}").is_listening
        assert not host.socket(f"tcp://0.0.0.0:{port}").is_listening
    chroma = wired("chroma_port")  # the rag tier's load balancer reaches it
    rag = lab_host(RAG_HOST)
    assert rag.socket(f"tcp://{address(RAG_HOST)}:{chroma}").is_listening
    assert not rag.socket(f"tcp://0.0.0.0:{chroma}").is_listening


def test_chat_completion_from_the_ollama_stand_in(webui_url: str, webui_token: str) -> None:
    """Through Open WebUI's API with the bootstrapped admin, answered by the Ollama
    TEST STAND-IN (not Ollama)."""
    reply = chat(webui_url, webui_token, "llama3.2:1b", "Hi")
    assert answer_text(reply) == "Stand-in answer from llama3.2:1b to: Hi"


def test_rag_model_cites_the_right_file_and_page(webui_url: str, webui_token: str) -> None:
    models = api("GET", f"{webui_url}/api/models", webui_token)
    assert "fleet-rag" in [m["id"] for m in models["data"]]
    content = answer_text(chat(webui_url, webui_token, "fleet-rag", RAG_QUESTION))
    assert "every ninety days" in content
    assert f"Sources:\n1. {RAG_SOURCE}" in content


def test_the_self_configured_host_answers_through_the_load_balancer(
    webui_url: str, webui_token: str
) -> None:
    """A chat and a RAG answer with its source through the load balancer, pinned to the
    self-configured gpu-node by the stickiness cookie (as a user's browser is): its Open WebUI
    logged both requests."""
    state = LabState.load()
    assert state is not None
    (instance,) = [h.instance_id for h in state.hosts if h.name == OTHER_GPU_HOST]
    log = f"{wired('fleet_log_dir')}/open-webui.log"
    served = lab_host(OTHER_GPU_HOST).file(log).content_string.count("POST /api/chat/completions")
    pin = f"AWSALB={instance}"
    reply = chat(webui_url, webui_token, "llama3.2:1b", "Hi, new host", cookie=pin)
    assert answer_text(reply) == "Stand-in answer from llama3.2:1b to: Hi, new host"
    content = answer_text(chat(webui_url, webui_token, "fleet-rag", RAG_QUESTION, cookie=pin))
    assert "every ninety days" in content and f"Sources:\n1. {RAG_SOURCE}" in content
    now = lab_host(OTHER_GPU_HOST).file(log).content_string.count("POST /api/chat/completions")
    assert now >= served + 2


def test_the_post_deploy_check_passes_on_the_platform_and_fails_a_bad_password(
    webui_url: str, admin_password: str, tmp_path: Path
) -> None:
    """tools/post_deploy_check.py, as the deploy runs it after every deploy, through the load
    balancer: health, version, the admin's sign-in, the models, a chat, a fleet-rag answer citing
    its source - all ok, in the Markdown summary; with a wrong password it fails, naming it."""
    summary = tmp_path / "summary.md"
    command: list[str | Path] = [
        venv_bin("python"), "-m", "tools.post_deploy_check", "--url", webui_url,
        "--model", "llama3.2:1b", "--rag-question", RAG_QUESTION, "--summary", summary,
    ]  # fmt: skip
    passed = run_tool(*command, timeout=600, LLM_FLEET_ADMIN_PASSWORD=admin_password)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    table = summary.read_text()
    for check in ("health", "version", "admin sign-in", "models", "chat (llama3.2:1b)"):
        assert f"| {check} | ok |" in table, table
    assert "| RAG answer (fleet-rag) | ok |" in table and RAG_SOURCE.split(" (")[0] in table
    refused = run_tool(*command, timeout=600, LLM_FLEET_ADMIN_PASSWORD="not-the-password")
    assert refused.returncode == 1 and "| admin sign-in | FAILED |" in refused.stdout


def test_services_log_to_files_the_cloudwatch_agent_stand_in_tails() -> None:
    """Every host runs the CloudWatch agent TEST STAND-IN (not the agent) on the config the role
    validated; the services' output is in the files it ships (after the chats above)."""
    ctl = "/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl"
    for name in SERVICES:
        status = json.loads(lab_host(name).check_output(f"{ctl} -a status"))
        assert status["status"] == "running" and status["configstatus"] == "configured"
    gpu = lab_host(GPU_HOST)
    logs = wired("fleet_log_dir")
    # The chats above went through the load balancer: to one gpu-node or the other.
    webui_logs = [
        lab_host(name).file(f"{logs}/open-webui.log").content_string
        for name in (GPU_HOST, OTHER_GPU_HOST)
    ]
    assert any("POST /api/chat/completions" in log for log in webui_logs)
    assert lab_host(RAG_HOST).file(f"{logs}/fleet-rag.log").content_string.strip()
    agent_log = gpu.file("/opt/aws/amazon-cloudwatch-agent/logs/amazon-cloudwatch-agent.log")
    assert f"would tail {logs}/ollama.log (present)" in agent_log.content_string


# Each service's share of the host's memory (the roles' defaults; the split: docs/capacity.md).
MEMORY_SHARES = {
    "ollama": ("ollama", "ollama_memory_max_percent"),
    "ollama-in-flight": ("ollama", "ollama_in_flight_memory_max_percent"),
    "open-webui": ("open_webui", "open_webui_memory_max_percent"),
    "fleet-rag": ("chromadb_rag", "chromadb_rag_memory_max_percent"),
    "chroma": ("chromadb_rag", "chromadb_rag_chroma_memory_max_percent"),
    "amazon-cloudwatch-agent": ("cloudwatch_agent", "cloudwatch_agent_memory_max_percent"),
}


def test_every_service_has_its_share_of_the_hosts_memory_and_the_shares_leave_room() -> None:
    """MemoryMax of each fleet service is its role's percentage of the host's memory (systemd
    resolves it to bytes), MemoryHigh below it; a host's shares add up to at most 90 % (the rest:
    the system, the page cache). This machine's hybrid cgroups may not enforce the limits inside
    the lab's containers: the units' properties are what is checked."""
    for name, services in SERVICES.items():
        host = lab_host(name)
        units = services + (["ollama-in-flight"] if "ollama" in services else [])
        shares = 0
        for unit in units:
            percent, most, high = memory_limits(host.check_output, f"{unit}.service")
            share = int(role_default(*MEMORY_SHARES[unit]))
            assert abs(percent - share) < 0.1, (name, unit, percent)
            assert 0 < high < most, (name, unit, high, most)
            shares += share
        assert shares <= 90, (name, shares)


def test_every_lab_host_reports_systemd_running_not_degraded() -> None:
    """The fleet's hosts and the service hosts alike: no unit left failed by the configuration
    (a server a service host does not stand in for, a daemon a container cannot run)."""
    state = LabState.load()
    assert state is not None
    names = [host.name for host in state.hosts] + [STATE_HOST, LOAD_BALANCER_HOST]
    states = {name: systemd_state(name) for name in names}
    failed = {
        name: lab_host(name).run("systemctl --failed --no-legend --plain").stdout.split()
        for name, seen in states.items()
        if seen != "running"
    }
    assert failed == {}, states
