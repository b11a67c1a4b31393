"""The lab's life cycle: `lab up` starts the EC2 API and tagged hosts (and the load balancer
target group, with the gpu-node hosts in it, as the auto scaling group does); `lab status`
reports them; `lab down` leaves no container, process or network namespace behind. The stack
on the lab is tested by the whole-stack Molecule scenario (molecule/default)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from fleetlib.paths import REPO, venv_bin
from fleetlib.wiring import wired
from lab.aws import client, state_prefix, uploads_bucket
from lab.ca import CA_CERT
from lab.config import (
    CHROMA_TARGET_GROUP,
    IDENTITY_HOST,
    LABEL,
    LOAD_BALANCER_HOST,
    STATE_FILE,
    STATE_HOST,
    TARGET_GROUP,
    lab_network,
    lab_port,
    podman_env,
)
from lab.ec2 import elbv2_client, port_is_open, target_health
from lab.podman import address, containers_with_label, network_exists
from lab.state import LabState
from tests.helpers import inventory_list, run_tool

pytestmark = pytest.mark.lab


def netns() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    return {line.split()[0] for line in out.stdout.splitlines() if line.strip()}


def lab(*args: str) -> subprocess.CompletedProcess[str]:
    return run_tool(venv_bin("python"), "-m", "lab", *args, timeout=600)


@pytest.fixture(scope="module")
def lab_up() -> Iterator[set[str]]:
    if STATE_FILE.exists() or port_is_open(lab_port(), str(lab_network().gateway)):
        pytest.skip("a lab is already up on this machine; `python -m lab down` first")
    namespaces_before = netns()
    proc = lab("up", "--hosts", "3")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    yield namespaces_before
    lab("down")


def test_inventory_groups_the_hosts_by_their_tags(lab_up: set[str]) -> None:
    inventory = inventory_list(REPO / "inventories" / "lab")
    assert set(inventory["role_gpu_node"]["hosts"]) == {"llm-fleet-lab-1", "llm-fleet-lab-3"}
    assert inventory["role_rag_node"]["hosts"] == ["llm-fleet-lab-2"]
    zones = {group for group in inventory if group.startswith("az_")}
    assert len(zones) == 3  # the hosts are spread over the availability zones


def test_gpu_hosts_are_in_the_load_balancer_target_group(lab_up: set[str]) -> None:
    state = LabState.load()
    assert state is not None
    _, health = target_health(elbv2_client(state.endpoint), TARGET_GROUP)
    gpu = {h.instance_id for h in state.hosts if h.role == "gpu-node"}
    assert {t["Target"]["Id"] for t in health} == gpu
    assert {t["Target"]["Port"] for t in health} == {wired("open_webui_port")}


def test_rag_nodes_are_in_the_vector_store_target_group(lab_up: set[str]) -> None:
    state = LabState.load()
    assert state is not None
    _, health = target_health(elbv2_client(state.endpoint), CHROMA_TARGET_GROUP)
    rag = {h.instance_id for h in state.hosts if h.role == "rag-node"}
    assert {t["Target"]["Id"] for t in health} == rag


def test_the_shared_state_terraform_would_create_is_in_the_lab_aws_api(lab_up: set[str]) -> None:
    """What fleet_wiring reads: every parameter it requires (SecureString, as terraform writes
    them) and every secret, generated; and the uploads bucket, versioned."""
    state = LabState.load()
    assert state is not None
    prefix = state_prefix()
    ssm = client("ssm", state.endpoint)
    pages = ssm.get_paginator("get_parameters_by_path").paginate(
        Path=f"/{prefix}/state/", WithDecryption=True
    )
    found = [parameter for page in pages for parameter in page["Parameters"]]
    parameters = {p["Name"].rsplit("/", 1)[1]: p for p in found}
    # terraform's, and the optional ones of a fleet with an identity provider and a private CA.
    optional = ["identity_client_id", "identity_issuer", "trusted_ca_bundle"]
    assert sorted(parameters) == sorted([*wired("fleet_state_parameters"), *optional])
    assert {p["Type"] for p in parameters.values()} == {"SecureString"}
    assert parameters["chroma_host"]["Value"] == str(lab_network().load_balancer_address)
    assert parameters["identity_issuer"]["Value"].startswith("https://")
    assert parameters["trusted_ca_bundle"]["Value"] == CA_CERT.read_text()
    secretsmanager = client("secretsmanager", state.endpoint)
    for name in wired("fleet_state_secret_names").values():
        value = secretsmanager.get_secret_value(SecretId=f"{prefix}/{name}")["SecretString"]
        assert len(value) >= 32
    versioning = client("s3", state.endpoint).get_bucket_versioning(Bucket=uploads_bucket())
    assert versioning["Status"] == "Enabled"


def test_hosts_keep_their_addresses_across_a_stop_and_start(lab_up: set[str]) -> None:
    network = lab_network()
    assert address(STATE_HOST) == str(network.state_address)
    assert address(LOAD_BALANCER_HOST) == str(network.load_balancer_address)
    assert address(IDENTITY_HOST) == str(network.identity_address)
    assert address("llm-fleet-lab-2") == network.host_address(2)
    for action in (["stop", "--time", "1"], ["start"]):
        subprocess.run(["podman", *action, "llm-fleet-lab-2"], check=True, env=podman_env())
    assert address("llm-fleet-lab-2") == network.host_address(2)
    # The instance behind it names the same private address (what the load balancer uses).
    inventory = inventory_list(REPO / "inventories" / "lab")
    hostvars = inventory["_meta"]["hostvars"]["llm-fleet-lab-2"]
    assert hostvars["private_ip_address"] == network.host_address(2)


def test_lab_status_reports_healthy(lab_up: set[str]) -> None:
    proc = lab("status")
    assert proc.returncode == 0, proc.stdout
    assert proc.stdout.count("running") + proc.stdout.count("degraded") >= 5  # 3 hosts, 2 services


def test_a_stopped_or_missing_host_is_unreachable(lab_up: set[str]) -> None:
    """As a dead host is over SSH: UNREACHABLE, not a task failed on "container state improper"."""
    podman = ["podman"]
    subprocess.run(
        [*podman, "stop", "--time", "1", "llm-fleet-lab-3"], check=True, env=podman_env()
    )
    stopped = run_tool(
        venv_bin("ansible"), "-i", "inventories/lab", "llm-fleet-lab-3", "-m", "ping"
    )
    assert stopped.returncode == 4, stopped.stdout + stopped.stderr
    assert "UNREACHABLE" in stopped.stdout and "is exited, not running" in stopped.stdout
    subprocess.run([*podman, "rm", "llm-fleet-lab-3"], check=True, env=podman_env())
    missing = run_tool(
        venv_bin("ansible"), "-i", "inventories/lab", "llm-fleet-lab-3", "-m", "ping"
    )
    assert missing.returncode == 4, missing.stdout + missing.stderr
    assert "UNREACHABLE" in missing.stdout and "does not exist" in missing.stdout
    reachable = run_tool(
        venv_bin("ansible"), "-i", "inventories/lab", "llm-fleet-lab-1", "-m", "ping"
    )
    assert reachable.returncode == 0, reachable.stdout + reachable.stderr


def test_lab_down_leaves_nothing_behind(lab_up: set[str]) -> None:
    proc = lab("down")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert containers_with_label(LABEL) == []
    assert not port_is_open(lab_port(), str(lab_network().gateway))
    assert not network_exists(lab_network().name)
    assert not STATE_FILE.exists()
    leftovers = subprocess.run(
        ["pgrep", "-f", f"moto_server -H {lab_network().gateway} -p {lab_port()}|llm-fleet-lab-"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert leftovers.stdout == "", leftovers.stdout
    assert netns() <= lab_up  # every namespace the hosts had is gone
