"""`lab scale`: gpu-nodes in and out as the auto scaling group moves them. Out: one more
gpu-node, launched the way the group launches one and configured by itself - no
ansible-playbook from the controller. The lab builds this checkout's
release (its inventory and stand-ins added), publishes it in the lab's S3 and SSM as the deploy
does, starts a host with an instance in the lab's EC2 API, and runs inside it the very user data
terraform renders (lab/user_data.py), with lab values: no separate data volume, no lifecycle
hook (the lab's EC2 API cannot complete one: tests/test_host_apply.py checks that call against
botocore's API model instead), the lab's inventory. Only after the host's own run succeeded is
it registered in the target group and given traffic by the load balancer. In: the newest
gpu-node deregistered, drained and terminated (scale_in)."""

from __future__ import annotations

import re
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from fleetlib.paths import REPO, venv_bin
from fleetlib.scripts import OLLAMA_MIRROR, load_script
from fleetlib.wiring import templated, wired_file
from lab.aws import client, models_mirror
from lab.config import (
    HOST_PREFIX,
    LAB_INVENTORY,
    ROLE_INSTANCE_TYPES,
    STATE_DIR,
    TARGET_GROUP,
    TARGET_GROUP_PORT,
    lab_imds_endpoint,
    lab_network,
    podman_env,
)
from lab.ec2 import ec2_client, elbv2_client, register_targets, sdk_env
from lab.podman import start_host, wait_for_systemd
from lab.release import lab_release
from lab.state import LabHost, LabState
from lab.user_data import fleet_values, render


@dataclass(frozen=True)
class ScaledOut:
    host: LabHost
    seconds: dict[str, float]


@dataclass(frozen=True)
class ScaledIn:
    host: LabHost
    seconds: dict[str, float]
    # Connections still open when the deregistration delay ran out (cut by the termination).
    cut: int


def update_load_balancer() -> None:
    """The lab's load balancer follows its target groups (HAProxy reloads: connections already
    open on a removed backend finish on the old worker). The whole services playbook (its
    service hosts are added by its first play, so a --limit would leave them out); the state
    host's part changes nothing."""
    subprocess.run(
        [str(venv_bin("ansible-playbook")), "-i", "inventories/lab", "lab/playbooks/services.yml"],
        cwd=REPO, check=True, capture_output=True, timeout=600,
    )  # fmt: skip


def open_connections(host: LabHost) -> int:
    """Established connections to Open WebUI on the host (the load balancer's and users')."""
    shown = subprocess.run(
        ["podman", "exec", host.name, "ss", "-Htn", "state", "established",
         f"( sport = :{TARGET_GROUP_PORT} )"],
        capture_output=True, text=True, check=True, env=podman_env(),
    ).stdout  # fmt: skip
    return len([line for line in shown.splitlines() if line.strip()])


def scale_in(state: LabState) -> ScaledIn:
    """The newest gpu-node leaves as the auto scaling group takes one out: deregistered from
    the target group (the load balancer sends it nothing new), its open answers drained - for at
    most the deregistration delay, the wiring's fleet_answer_drain_seconds -, then terminated
    (its instance and its container)."""
    host = max(
        (h for h in state.hosts if h.role == "gpu-node"),
        key=lambda h: int(h.name.removeprefix(HOST_PREFIX)),
    )
    seconds: dict[str, float] = {}
    started = time.monotonic()
    elbv2 = elbv2_client(state.endpoint)
    (group,) = elbv2.describe_target_groups(Names=[TARGET_GROUP])["TargetGroups"]
    elbv2.deregister_targets(
        TargetGroupArn=group["TargetGroupArn"],
        Targets=[{"Id": host.instance_id, "Port": TARGET_GROUP_PORT}],
    )
    update_load_balancer()
    seconds["out of the load balancer"] = round(time.monotonic() - started, 1)
    started = time.monotonic()
    delay = int(templated(wired_file("fleet_answer"), "fleet_answer_drain_seconds"))
    while open_connections(host) and time.monotonic() - started < delay:
        time.sleep(0.5)
    seconds["drained"] = round(time.monotonic() - started, 1)
    left = open_connections(host)
    started = time.monotonic()
    ec2_client(state.endpoint).terminate_instances(InstanceIds=[host.instance_id])
    subprocess.run(
        ["podman", "rm", "--force", "--time", "10", host.name],
        check=True, capture_output=True, env=podman_env(),
    )  # fmt: skip
    state.hosts.remove(host)
    state.save()
    seconds["terminated"] = round(time.monotonic() - started, 1)
    return ScaledIn(host, seconds, left)


def mirror_models(state: LabState) -> dict[str, object]:
    """The lab's stand-in for the deploy's model mirroring: the models a configured gpu-node
    holds (the stand-in's, in Ollama's layout) copied into the lab's S3 mirror, as the deploy
    copies the pinned models from Ollama's registry; blobs already there are not copied again."""
    source = next(h.name for h in state.hosts if h.role == "gpu-node")
    shown = subprocess.run(
        ["podman", "exec", source, "systemctl", "show", "ollama.service", "-p", "Environment"],
        capture_output=True, text=True, check=True, env=podman_env(),
    ).stdout  # fmt: skip
    match = re.search(r"OLLAMA_MODELS=(\S+)", shown)
    if match is None:
        raise SystemExit(f"{source} runs no Ollama with OLLAMA_MODELS: converge it first")
    mirror = load_script(OLLAMA_MIRROR)
    with tempfile.TemporaryDirectory() as scratch:
        subprocess.run(
            ["podman", "cp", f"{source}:{match.group(1)}", scratch],
            check=True, capture_output=True, env=podman_env(),
        )  # fmt: skip
        folder = Path(scratch) / Path(match.group(1)).name
        report: dict[str, object] = mirror.push(
            mirror.models_in(folder), mirror.Source(folder), client("s3", state.endpoint),
            models_mirror(),
        )  # fmt: skip
    return report


def scale_out(state: LabState, zone: str, baked: bool = True) -> ScaledOut:
    """One more gpu-node, from the baked gpu-node image (baked first when its bake hash is new)
    or, unbaked, from the bare base image as before images were baked."""
    from lab.bake import ensure_baked_image
    from lab.ec2 import run_tagged_instance

    seconds: dict[str, float] = {}
    started = time.monotonic()
    built = lab_release(state.endpoint)
    seconds["release built and published"] = round(time.monotonic() - started, 1)
    image = state.image
    if baked:
        started = time.monotonic()
        image, _ = ensure_baked_image(built)
        seconds["image baked (once per bake hash)"] = round(time.monotonic() - started, 1)
    started = time.monotonic()
    mirrored = mirror_models(state)
    seconds["models mirrored"] = round(time.monotonic() - started, 1)
    print(f"models mirrored: {mirrored}")
    network = lab_network()
    index = max(int(h.name.removeprefix(HOST_PREFIX)) for h in state.hosts) + 1
    name, address = f"{HOST_PREFIX}{index}", network.host_address(index)
    started = booted = time.monotonic()
    start_host(name, image, network, address)
    wait_for_systemd(name)
    ec2 = ec2_client(state.endpoint)
    instance = run_tagged_instance(
        ec2, name=name, role="gpu-node", instance_type=ROLE_INSTANCE_TYPES["gpu-node"], zone=zone,
        extra_tags={"LabHost": name}, private_ip=address,
    )  # fmt: skip
    host = LabHost(name, "gpu-node", instance["InstanceId"], ROLE_INSTANCE_TYPES["gpu-node"], zone)
    state.hosts.append(host)
    state.save()
    seconds["host launched"] = round(time.monotonic() - started, 1)
    script = render(
        fleet_values("", data_volume=False, inventory=str(LAB_INVENTORY.relative_to(REPO)))
    )
    env = {
        **sdk_env(state.endpoint, instance["Placement"]["AvailabilityZone"][:-1]),
        "AWS_EC2_METADATA_SERVICE_ENDPOINT": lab_imds_endpoint(),
    }
    started = time.monotonic()
    log = STATE_DIR / f"user-data-{name}.log"
    with log.open("w") as out:
        proc = subprocess.run(
            ["podman", "exec", "-i", *[f"--env={k}={v}" for k, v in env.items()], name,
             "bash", "-s"],
            input=script.encode(), stdout=out, stderr=subprocess.STDOUT, env=podman_env(),
            timeout=3600, check=False,
        )  # fmt: skip
    seconds["user data (self-configuration)"] = round(time.monotonic() - started, 1)
    if proc.returncode != 0:
        raise SystemExit(f"{name} did not configure itself (exit {proc.returncode}); see {log}")
    # In service only now, as the auto scaling group registers a host after its hook completes.
    elbv2 = elbv2_client(state.endpoint)
    (group,) = elbv2.describe_target_groups(Names=[TARGET_GROUP])["TargetGroups"]
    register_targets(elbv2, group["TargetGroupArn"], [host.instance_id], TARGET_GROUP_PORT)
    started = time.monotonic()
    update_load_balancer()
    seconds["load balancer updated"] = round(time.monotonic() - started, 1)
    seconds["container start to in service"] = round(time.monotonic() - booted, 1)
    print(f"release {built.artifact.name} ({built.sha256[:12]})")
    return ScaledOut(host, seconds)
