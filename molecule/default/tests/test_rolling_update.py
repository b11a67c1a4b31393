"""playbooks/rolling_update.yml on the lab, against the load balancer target group that `lab up`
created in the local EC2 API (moto): the GPU host leaves the target group before its roles run,
comes back only after its health gate, and the update itself changes nothing else; a host that
fails its health gate stays out and fails the update. Limited to one of the two GPU hosts
(--limit): a batch of one proves the same, in half the time."""

from __future__ import annotations

import re
import subprocess
from typing import Any

from lab_stack import GPU_HOST

from fleetlib.paths import venv_bin
from lab.config import TARGET_GROUP, TARGET_GROUP_PORT
from lab.ec2 import elbv2_client, register_targets, target_health
from lab.state import LabState
from tests.helpers import recap, run_tool


def rolling_update(*extra: str) -> subprocess.CompletedProcess[str]:
    return run_tool(
        venv_bin("ansible-playbook"),
        "-i",
        "inventories/lab",
        "playbooks/rolling_update.yml",
        "--limit",
        GPU_HOST,
        *extra,
    )


def lab_state() -> LabState:
    state = LabState.load()
    assert state is not None, "the lab is not up"
    return state


def elbv2() -> Any:
    return elbv2_client(lab_state().endpoint)


def targets() -> dict[str, str]:
    _, health = target_health(elbv2(), TARGET_GROUP)
    return {t["Target"]["Id"]: t["TargetHealth"]["State"] for t in health}


def gpu_instance_id() -> str:
    return next(h.instance_id for h in lab_state().hosts if h.name == GPU_HOST)


def test_bad_target_group_settings_are_refused_before_anything_changes() -> None:
    before = targets()
    proc = rolling_update("-e", "fleet_target_group_arn=arn:aws:elasticloadbalancing:x")
    assert proc.returncode != 0
    assert "set exactly one of fleet_target_group_arn" in proc.stdout
    assert targets() == before


def test_the_host_leaves_the_target_group_while_its_roles_run() -> None:
    assert targets()[gpu_instance_id()] == "healthy"
    proc = rolling_update()
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr
    tasks = re.findall(r"^TASK \[(.+?)\]", proc.stdout, flags=re.MULTILINE)
    out = tasks.index("Take the host out of the load balancer and wait until its connections drain")
    gate = tasks.index("Health gate - Open WebUI answers on the address the load balancer uses")
    back = tasks.index("Put the host back and wait until the load balancer reports it healthy")
    first_role = next(i for i, t in enumerate(tasks) if t.startswith("kernel_tuning : "))
    last_role = max(i for i, t in enumerate(tasks) if t.startswith("cloudwatch_agent : "))
    assert out < first_role < last_role < gate < back
    counters = recap(proc.stdout)
    assert set(counters) == {GPU_HOST}  # only the load-balanced hosts
    assert counters[GPU_HOST]["changed"] == 2  # out of the target group and back; nothing else
    assert targets()[gpu_instance_id()] == "healthy"


def test_a_host_failing_its_health_gate_stays_out_of_the_target_group() -> None:
    """The gate cannot reach Open WebUI (nothing listens where it asks): the host must not go
    back in service."""
    proc = rolling_update(
        "-e",
        "rolling_update_health_url=http://127.0.0.1:9/health",
        "-e",
        "rolling_update_health_retries=2",
    )
    try:
        assert proc.returncode == 2, proc.stdout[-4000:] + proc.stderr
        assert recap(proc.stdout)[GPU_HOST]["failed"] == 1
        failed_task = re.findall(r"^TASK \[(.+?)\]", proc.stdout.split("fatal:")[0], re.MULTILINE)
        assert failed_task[-1].startswith("fleet_common : Wait until this URL answers 200")
        assert "Put the host back" not in proc.stdout
        assert gpu_instance_id() not in targets()
    finally:  # leave the lab as the auto scaling group would have it
        client = elbv2()
        arn, _ = target_health(client, TARGET_GROUP)
        register_targets(client, arn, [gpu_instance_id()], TARGET_GROUP_PORT)
