"""terraform/'s hosts: launch templates (IMDSv2, encrypted volumes, user data), the auto scaling
groups and their instance refresh, the tags the inventory groups by, the rag tier."""

from __future__ import annotations

import gzip
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from fleetlib.paths import REPO
from lab.user_data import HOST_APPLY, TEMPLATE, USER_DATA_LIMIT, fleet_values, render
from tests.hcl import TERRAFORM_BIN, load, needs_terraform


def test_imdsv2_is_required_on_every_launch_template() -> None:
    templates = load().of_type("aws_launch_template")
    assert templates
    for template in templates:
        (metadata,) = template.body["metadata_options"]
        assert metadata["http_tokens"] == "required"
        assert metadata["http_put_response_hop_limit"] == 1


def test_every_volume_is_encrypted_gp3() -> None:
    config = load()
    volumes = [
        ebs
        for template in config.of_type("aws_launch_template")
        for mapping in template.body["block_device_mappings"]
        for ebs in mapping["ebs"]
    ]
    assert len(volumes) == 2, "a root and a data volume"
    for ebs in volumes:
        assert ebs["encrypted"] is True
        assert ebs["volume_type"] == "gp3"
        assert ebs["kms_key_id"] == "${var.kms_key_arn}"
    assert not config.of_type("aws_instance"), "hosts come from the auto scaling group only"
    for volume in config.of_type("aws_ebs_volume"):
        assert volume.body.get("encrypted") is True


def test_the_inventory_finds_and_groups_the_hosts_by_the_tags_terraform_sets() -> None:
    config = load()
    inventory = yaml.safe_load((REPO / "inventories" / "aws_ec2.yml").read_text())
    host_tags = config.locals["modules/fleet:host_tags"]
    # Launch template tags instances and volumes with exactly these, and the ASG propagates them.
    template = config.one("aws_launch_template", "this").body
    assert {s["resource_type"]: s["tags"] for s in template["tag_specifications"]} == {
        "instance": "${local.host_tags}",
        "volume": "${local.host_tags}",
    }
    (asg_tags,) = config.one("aws_autoscaling_group", "this").body["dynamic"]
    assert asg_tags["tag"]["for_each"] == "${local.host_tags}"
    assert asg_tags["tag"]["content"][0]["propagate_at_launch"] is True
    # Filter: tag:Project with terraform's default project name.
    assert inventory["filters"]["tag:Project"] == config.default("project")
    assert host_tags["Project"] == "${var.project}"
    # Groups: role_<Role>, env_<Environment>, from tags terraform sets.
    keyed = {group["key"]: group["prefix"] for group in inventory["keyed_groups"]}
    assert keyed["tags.Role"] == "role" and host_tags["Role"] == "${var.role}"
    assert keyed["tags.Environment"] == "env" and host_tags["Environment"] == "${var.environment}"
    assert inventory["regions"] == [config.default("aws_region")]
    # The role terraform launches is a group site.yml configures.
    role = config.modules["fleet"]["role"]
    plays = [
        play
        for book in sorted((REPO / "playbooks").glob("*.yml"))
        for play in yaml.safe_load(book.read_text())
    ]
    targeted = {
        group
        for play in plays
        if "hosts" in play
        for group in re.split(r"[:,]", str(play["hosts"]))
    }
    assert f"role_{role.replace('-', '_')}" in targeted


def test_instance_types_are_limited_to_gpu_families() -> None:
    (rule,) = load().variables[".:instance_type"]["validation"]
    pattern = re.search(r'regex\("(.+?)", var\.instance_type\)', rule["condition"])
    assert pattern
    regex = pattern.group(1).replace("\\\\", "\\")
    for accepted in ("g4dn.xlarge", "g5.12xlarge", "g6.2xlarge", "g6e.xlarge"):
        assert re.search(regex, accepted), accepted
    for refused in ("t3.large", "m5.xlarge", "p4d.24xlarge", "g5"):
        assert not re.search(regex, refused), refused


def test_new_hosts_wait_for_ansible_before_serving() -> None:
    asg = load().one("aws_autoscaling_group", "this").body
    (hook,) = asg["initial_lifecycle_hook"]
    assert hook["lifecycle_transition"] == "autoscaling:EC2_INSTANCE_LAUNCHING"
    assert hook["default_result"] == "ABANDON"
    assert asg["health_check_type"] == "ELB"


def test_an_instance_refresh_keeps_serving_capacity() -> None:
    """Launch before terminate: never fewer healthy hosts than in service, a failed refresh
    rolled back; the old hosts drain through the target group's deregistration delay."""
    (refresh,) = load().one("aws_autoscaling_group", "this").body["instance_refresh"]
    assert refresh["strategy"] == "Rolling"
    (preferences,) = refresh["preferences"]
    assert preferences["min_healthy_percentage"] == 100
    assert preferences["max_healthy_percentage"] > 100
    assert preferences["auto_rollback"] is True and preferences["skip_matching"] is True


def test_user_data_script_passes_shellcheck(tmp_path: Path) -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (make setup installs it)")
    for data_volume in (True, False):
        script = tmp_path / f"user_data_{data_volume}.sh"
        script.write_text(render(fleet_values("llm-fleet-prod-gpu-node-configure", data_volume)))
        proc = subprocess.run(
            [shellcheck, str(script)], capture_output=True, text=True, check=False
        )
        assert proc.returncode == 0, proc.stdout


def test_user_data_fits_ec2s_limit_and_carries_the_self_configuration() -> None:
    """Gzipped, as the launch template sends it (cloud-init unpacks gzipped user data)."""
    rendered = render(fleet_values("llm-fleet-prod-gpu-node-configure", True))
    template = load().one("aws_launch_template", "this").body
    assert str(template["user_data"]).startswith("${base64gzip(templatefile(")
    assert len(gzip.compress(rendered.encode())) < USER_DATA_LIMIT
    assert HOST_APPLY.read_text() in rendered
    assert 'host_apply.py "llm-fleet-prod-gpu-node-configure" /var/log/llm-fleet/' in rendered
    fleet = load()
    template = fleet.one("aws_launch_template", "this").body
    assert "tools/host_apply.py" in template["user_data"]
    assert fleet.locals["modules/fleet:configure_hook"] == "${var.name}-${var.role}-configure"
    (hook,) = fleet.one("aws_autoscaling_group", "this").body["initial_lifecycle_hook"]
    assert hook["name"] == "${local.configure_hook}"


@needs_terraform
def test_the_lab_renders_the_user_data_as_terraform_does(tmp_path: Path) -> None:
    """lab/user_data.py against terraform's own templatefile() (terraform console, no provider)."""
    values = fleet_values("llm-fleet-lab-gpu-node-configure", False)
    (tmp_path / "values.json").write_text(json.dumps(values))
    expression = f'templatefile("{TEMPLATE}", jsondecode(file("{tmp_path}/values.json")))'
    proc = subprocess.run(
        [str(TERRAFORM_BIN), "console"],
        input=f"jsonencode({expression})\n",
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(json.loads(proc.stdout)) == render(values)


def test_the_gpu_group_mixes_instance_types_with_an_on_demand_base_and_optional_spot() -> None:
    """g5 first, g4dn when g5 is short; the base always On-Demand, the share above it On-Demand
    by default (Spot is an option), capacity rebalancing on; off-hours schedules as an option."""
    config = load()
    asg = config.one("aws_autoscaling_group", "this").body
    assert "launch_template" not in asg, "one way to launch: the mixed instances policy"
    (policy,) = asg["mixed_instances_policy"]
    (template,) = policy["launch_template"]
    override = template["dynamic"][0]["override"]
    assert override["for_each"] == "${concat([var.instance_type], var.extra_instance_types)}"
    (distribution,) = policy["instances_distribution"]
    assert distribution["on_demand_base_capacity"] == "${var.on_demand_base_capacity}"
    assert distribution["spot_allocation_strategy"] == "price-capacity-optimized"
    assert asg["capacity_rebalance"] is True
    assert config.default("instance_type") == "g5.xlarge"
    assert config.default("extra_instance_types") == ["g4dn.xlarge"]
    assert config.default("on_demand_percentage_above_base") == 100  # Spot only when asked
    assert config.default("on_demand_base_capacity") >= 1
    schedule = config.one("aws_autoscaling_schedule", "this").body
    assert schedule["for_each"] == "${var.scheduled_scaling}"
    assert config.default("scheduled_scaling") == {}
    fleet = config.modules["fleet"]
    assert fleet["extra_instance_types"] == "${var.extra_instance_types}"
    assert fleet["scheduled_scaling"] == "${var.scheduled_scaling}"


def test_an_alarm_fires_when_hosts_stay_out_of_service_longer_than_a_configure() -> None:
    """A scale-out in progress is not an alarm; a shortfall that outlasts the launch hook's
    timeout is (hosts failing to configure, or capacity the region cannot give)."""
    config = load()
    alarm = config.one("aws_cloudwatch_metric_alarm", "below_desired").body
    queries = {q["id"]: q for q in alarm["metric_query"]}
    assert queries["shortfall"]["expression"] == "desired - in_service"
    assert queries["shortfall"]["return_data"] is True
    for name, metric in (
        ("desired", "GroupDesiredCapacity"),
        ("in_service", "GroupInServiceInstances"),
    ):
        assert queries[name]["metric"][0]["metric_name"] == metric
    assert alarm["evaluation_periods"] == "${ceil(var.configure_timeout_seconds / 300) + 1}"
    assert config.modules["monitoring"]["configure_timeout_seconds"] == (
        "${var.configure_timeout_seconds}"
    )
    fleet_group = config.one("aws_autoscaling_group", "this").body
    assert {"GroupDesiredCapacity", "GroupInServiceInstances"} <= set(
        fleet_group["enabled_metrics"]
    )
    (hook,) = fleet_group["initial_lifecycle_hook"]
    assert hook["heartbeat_timeout"] == "${var.configure_timeout_seconds}"


def test_the_rag_tier_runs_chroma_on_cpu_hosts_behind_a_stable_address() -> None:
    config = load()
    rag = config.modules["rag"]
    assert rag["role"] == "rag-node" and rag["source"] == "./modules/fleet"
    assert rag["target_group_arns"] == ["${module.vector_store.target_group_arn}"]
    assert rag["data_volume_delete_on_termination"] is False  # the vectors outlive the host
    assert rag["gpu_scaling"] is False
    assert config.modules["state"]["chroma_host"] == "${module.vector_store.dns_name}"
    (rule,) = config.variables[".:rag_instance_type"]["validation"]
    pattern = re.search(r'regex\("(.+?)", var\.rag_instance_type\)', rule["condition"])
    assert pattern
    regex = pattern.group(1).replace("\\\\", "\\")
    for accepted in ("r7i.large", "m6i.xlarge", "c7i.2xlarge"):
        assert re.search(regex, accepted), accepted
    for refused in ("g5.xlarge", "t3.micro", "p4d.24xlarge"):
        assert not re.search(regex, refused), refused
    template = config.one("aws_launch_template", "this").body
    data_disk = template["block_device_mappings"][1]["ebs"][0]
    assert data_disk["delete_on_termination"] == "${var.data_volume_delete_on_termination}"


def test_the_rag_nodes_data_volume_is_snapshotted_on_a_schedule() -> None:
    """The vector store's fast way back: DLM snapshots the rag-nodes' data volumes (never the
    boot volume), keeps the last N, with the fleet's key allowed to its role."""
    config = load()
    (policy,) = config.of_type("aws_dlm_lifecycle_policy")
    (details,) = policy.body["policy_details"]
    assert details["resource_types"] == ["INSTANCE"]
    assert details["target_tags"] == "${var.rag_host_tags}"
    assert details["parameters"][0]["exclude_boot_volume"] is True
    (schedule,) = details["schedule"]
    assert schedule["retain_rule"][0]["count"] == "${var.snapshot_retain}"
    assert schedule["create_rule"][0]["interval"] == "${var.snapshot_interval_hours}"
    # The tags it targets are the ones modules/fleet puts on the rag-node instances.
    assert config.modules["vector_store"]["rag_host_tags"] == {
        "Project": "${var.project}",
        "Environment": "${var.environment}",
        "Role": "rag-node",
    }
    assert config.modules["rag"]["role"] == "rag-node"
    host_tags = config.locals["modules/fleet:host_tags"]
    assert {k: host_tags[k] for k in ("Project", "Environment", "Role")} == {
        "Project": "${var.project}",
        "Environment": "${var.environment}",
        "Role": "${var.role}",
    }
    (kms,) = [d for d in config.data if d.name == "dlm_kms"]
    (statement,) = kms.body["statement"]
    assert statement["resources"] == ["${var.kms_key_arn}"]
