"""terraform's alarms and scaling policies read metrics the cloudwatch_agent role emits: the same
namespace, names and dimensions; its log groups are the ones the agent ships to."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from fleetlib.paths import REPO, venv_bin
from fleetlib.wiring import wired
from tests.hcl import load
from tests.helpers import run_tool

ROLE_DEFAULTS = yaml.safe_load((REPO / "roles/cloudwatch_agent/defaults/main.yml").read_text())
DUMMY_CHECKSUM = "sha256:" + "0" * 64


def render(dest: Path, **settings: object) -> subprocess.CompletedProcess[str]:
    """The role's own validate entry: builds the config, checks it against the schema, writes it."""
    return run_tool(
        venv_bin("ansible-playbook"),
        "-i",
        "localhost,",
        REPO / "tests/playbooks/render_cloudwatch_agent_config.yml",
        "-e",
        json.dumps(
            {"dest": str(dest), "cloudwatch_agent_package_checksum": DUMMY_CHECKSUM, **settings}
        ),
        timeout=300,
    )


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The config a GPU host gets, rendered and schema-checked by the role itself."""
    dest = tmp_path_factory.mktemp("cwagent") / "agent.json"
    proc = render(dest, cloudwatch_agent_nvidia_gpu=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data: dict[str, Any] = json.loads(dest.read_text())
    return data


def terraform_agent_metrics() -> list[tuple[str, str, set[str]]]:
    """(namespace, metric name, dimension names) of every alarm and scaling policy metric."""
    config = load()
    metrics = [
        (alarm["namespace"], alarm["metric_name"], {"AutoScalingGroupName"})
        for alarm in config.locals["modules/monitoring:host_alarms"].values()
    ]
    for policy in config.of_type("aws_autoscaling_policy"):
        for tracking in policy.body["target_tracking_configuration"]:
            for custom in tracking.get("customized_metric_specification", []):
                dimensions = {d["name"] for d in custom["metric_dimension"]}
                name = custom["metric_name"].replace(
                    "${var.in_flight_metric}", wired("fleet_in_flight_metric")
                )
                metrics.append((custom["namespace"], name, dimensions))
    return metrics


def test_the_rendered_config_has_the_gpu_section_on_gpu_hosts(agent: dict[str, Any]) -> None:
    collected = agent["config"]["metrics"]["metrics_collected"]
    assert collected["nvidia_gpu"]["measurement"][0] == "utilization_gpu"
    assert "nvidia_smi_utilization_gpu" in agent["metric_names"]


def test_every_alarm_metric_is_emitted_by_the_agent(agent: dict[str, Any]) -> None:
    namespace = load().default("metrics_namespace")
    assert namespace == agent["config"]["metrics"]["namespace"] == "LLMFleet"
    aggregations = [set(d) for d in agent["config"]["metrics"]["aggregation_dimensions"]]
    checked = 0
    for alarm_namespace, metric, dimensions in terraform_agent_metrics():
        if alarm_namespace.startswith("AWS/"):
            continue  # published by AWS itself
        assert alarm_namespace == "${var.metrics_namespace}", metric
        assert metric in agent["metric_names"], f"{metric} is not emitted by the agent"
        assert dimensions in aggregations, f"{metric}: the agent does not aggregate {dimensions}"
        checked += 1
    assert checked >= 5, "GPU, memory, disk alarms and the in-flight and GPU scaling policies"


def test_the_fleet_scales_on_generations_in_flight_from_the_wiring(agent: dict[str, Any]) -> None:
    """The policy follows the gauge the ollama role sends (the wiring's name, as a share of what
    the host admits at once: the gate's capacity on every instance type) through the agent's
    StatsD listener (the wiring's address)."""
    config = load()
    assert config.modules["fleet"]["in_flight_metric"] == "${local.wiring.fleet_in_flight_metric}"
    (policy,) = [p.body for p in config.of_type("aws_autoscaling_policy")
                 if p.name == "generations_in_flight"]  # fmt: skip
    (tracking,) = policy["target_tracking_configuration"]
    assert tracking["target_value"] == "${var.in_flight_target_percent}"
    assert 0 < config.default("in_flight_target_percent") < 100
    statsd = agent["config"]["metrics"]["metrics_collected"]["statsd"]
    assert statsd["service_address"] == wired("cloudwatch_agent_statsd_address") == "127.0.0.1:8125"
    assert f"{wired('fleet_in_flight_metric')}_percent" in agent["metric_names"]
    assert not [p for p in config.of_type("aws_autoscaling_policy")
                if "ALBRequestCountPerTarget" in str(p.body)]  # fmt: skip
    in_flight = (REPO / "roles/ollama/tasks/in_flight.yml").read_text()
    assert 'SLOTS: "{{ ollama_in_flight_capacity | string }}"' in in_flight
    for group in sorted((REPO / "inventories/group_vars").glob("type_*")):
        settings = {
            k: v for f in group.glob("*.yml") for k, v in yaml.safe_load(f.read_text()).items()
        }
        assert settings["ollama_in_flight_capacity"] == "{{ open_webui_capacity }}", group.name
        assert settings["open_webui_capacity"] >= 1, group.name


def test_log_groups_terraform_creates_are_the_ones_the_agent_ships_to() -> None:
    config = load()
    services = config.locals["modules/monitoring:services"]
    assert services == ROLE_DEFAULTS["cloudwatch_agent_log_services"]
    (group,) = [g.body for g in config.of_type("aws_cloudwatch_log_group") if g.name == "service"]
    assert group["name"] == "/${var.name}/${each.key}"
    assert config.locals[".:name"] == "${var.project}-${var.environment}"
    production = yaml.safe_load((REPO / "inventories/group_vars/all.yml").read_text())
    assert production["cloudwatch_agent_log_group_prefix"] == (
        "/{{ tags.Project }}-{{ tags.Environment }}"
    )
    assert re.fullmatch(r"\d+", str(ROLE_DEFAULTS["cloudwatch_agent_log_retention_days"]))
    assert ROLE_DEFAULTS["cloudwatch_agent_log_retention_days"] == config.default(
        "log_retention_days"
    )


def test_a_misspelt_measurement_is_refused_with_its_name(tmp_path: Path) -> None:
    proc = render(
        tmp_path / "agent.json",
        cloudwatch_agent_gpu_measurements=["utilisation_gpu"],
        cloudwatch_agent_nvidia_gpu=True,
    )
    assert proc.returncode != 0
    assert "'utilisation_gpu' is not one of" in proc.stdout
    assert not (tmp_path / "agent.json").exists()
