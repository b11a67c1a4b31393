"""cloudwatch_agent role with the CloudWatch agent TEST STAND-IN package (not the agent): the
pinned package, the rendered config (after side_effect: interval 30), the service, the logs."""

from __future__ import annotations

import json

from testinfra.host import Host

from fleetlib.wiring import wired
from tests.helpers import memory_limits, systemd_exposure, unit_properties

LOGS = wired("fleet_log_dir")
HOME = "/opt/aws/amazon-cloudwatch-agent"


def config(host: Host) -> dict[str, object]:
    data = json.loads(host.file(f"{HOME}/etc/amazon-cloudwatch-agent.json").content_string)
    assert isinstance(data, dict)
    return data


def test_stand_in_package_is_installed_at_the_pinned_version(host: Host) -> None:
    package = host.package("amazon-cloudwatch-agent")
    assert package.is_installed and package.version == "1.300073.2b1889"
    cached = "/var/cache/llm-fleet/amazon-cloudwatch-agent_1.300073.2b1889_amd64.deb"
    assert host.file(cached).exists


def test_agent_runs_enabled_and_reports_configured(host: Host) -> None:
    service = host.service("amazon-cloudwatch-agent")
    assert service.is_running and service.is_enabled
    status = json.loads(host.check_output(f"{HOME}/bin/amazon-cloudwatch-agent-ctl -a status"))
    assert status["status"] == "running" and status["configstatus"] == "configured"


def test_the_agent_runs_as_its_own_user_sandboxed_with_a_memory_share(host: Host) -> None:
    """Not the package unit's root: cwagent, in the fleet's sandbox (systemd-analyze security
    4.0 or better), no capability, reading the log files as a member of adm, MemoryMax its share
    (3 % of the host's memory: systemd resolves the percentage to bytes). This machine's hybrid
    cgroups may not enforce the limit inside a lab container; the unit's properties are what is
    checked here."""
    unit = "amazon-cloudwatch-agent.service"
    props = unit_properties(
        host.check_output, unit, "User", "CapabilityBoundingSet", "MainPID", "SupplementaryGroups"
    )
    assert props["User"] == "cwagent"
    assert props["CapabilityBoundingSet"] == "" and props["SupplementaryGroups"] == "adm"
    percent, most, high = memory_limits(host.check_output, unit)
    assert abs(percent - 3) < 0.1 and high < most
    owner = host.check_output(f"stat -c %U /proc/{props['MainPID']}")
    assert owner == "cwagent"
    assert host.file(f"{HOME}/logs/amazon-cloudwatch-agent.log").user == "cwagent"
    level, analysis = systemd_exposure(host.check_output, unit)
    assert level <= 4.0, analysis[-800:]


def test_config_is_private_and_holds_the_metrics_terraform_reads(host: Host) -> None:
    file = host.file(f"{HOME}/etc/amazon-cloudwatch-agent.json")
    assert (file.user, file.group, file.mode) == ("root", "cwagent", 0o640)
    data = config(host)
    metrics = data["metrics"]
    assert isinstance(metrics, dict)
    assert metrics["namespace"] == "LLMFleet"
    assert metrics["append_dimensions"] == {
        "InstanceId": "${aws:InstanceId}",
        "InstanceType": "${aws:InstanceType}",
        "AutoScalingGroupName": "${aws:AutoScalingGroupName}",
    }
    assert ["AutoScalingGroupName"] in metrics["aggregation_dimensions"]
    collected = metrics["metrics_collected"]
    assert collected["mem"]["measurement"] == ["used_percent", "available"]
    assert collected["disk"]["resources"] == ["/", wired("fleet_data_dir")]
    assert "nvidia_gpu" not in collected, "no GPU in this host: no GPU section"
    assert data["agent"] == {"metrics_collection_interval": 30, "run_as_user": "cwagent"}


def test_the_services_log_files_go_to_one_log_group_each(host: Host) -> None:
    files = config(host)["logs"]["logs_collected"]["files"]["collect_list"]  # type: ignore[index]
    assert [(f["file_path"], f["log_group_name"]) for f in files] == [
        (f"{LOGS}/{service}.log", f"/llm-fleet/{service}")
        for service in ("ollama", "open-webui", "chroma", "fleet-rag", "llm-fleet-apply")
    ]
    log = host.file(f"{HOME}/logs/amazon-cloudwatch-agent.log").content_string
    assert f"would tail {LOGS}/open-webui.log" in log
    assert "would emit cpu_usage_active, cpu_usage_iowait, disk_used_percent" in log


def test_the_installed_config_is_the_one_fetch_config_applied(host: Host) -> None:
    applied = host.file(f"{HOME}/etc/amazon-cloudwatch-agent.d/file_amazon-cloudwatch-agent.json")
    assert json.loads(applied.content_string) == config(host)
