"""terraform/ without the AWS provider: formatting, checkov, validate (when a local provider
mirror exists) and the invariants the fleet relies on, read from the HCL itself."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.config import REPO
from tests.hcl import TERRAFORM, checkov_skips, load

CHECKOV = REPO / ".venv-checkov" / "bin" / "checkov"
PLUGIN_DIR = Path(os.environ.get("LLM_FLEET_TF_PLUGIN_DIR", "/opt/tf-plugins"))
TERRAFORM_BIN = shutil.which("terraform")
needs_terraform = pytest.mark.skipif(TERRAFORM_BIN is None, reason="terraform is not installed")


def terraform(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    assert TERRAFORM_BIN
    return subprocess.run(
        [TERRAFORM_BIN, *args, "-no-color"],
        cwd=cwd,
        env={
            **os.environ,
            "TF_CLI_CONFIG_FILE": "/dev/null",
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


# --- tools -------------------------------------------------------------------------------------


@needs_terraform
def test_terraform_is_formatted() -> None:
    proc = terraform("fmt", "-check", "-recursive", "-diff", cwd=TERRAFORM)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@needs_terraform
def test_terraform_validates_with_the_aws_provider(tmp_path: Path) -> None:
    if not (PLUGIN_DIR / "registry.terraform.io" / "hashicorp" / "aws").is_dir():
        pytest.skip(
            f"the AWS provider cannot be downloaded here and no local mirror is at {PLUGIN_DIR}"
        )
    work = tmp_path / "terraform"
    shutil.copytree(TERRAFORM, work, ignore=shutil.ignore_patterns(".terraform*"))
    wiring = Path("roles") / "fleet_wiring" / "defaults"  # terraform reads the wiring's files
    shutil.copytree(REPO / wiring, tmp_path / wiring)
    init = terraform("init", "-backend=false", f"-plugin-dir={PLUGIN_DIR}", cwd=work)
    assert init.returncode == 0, init.stdout + init.stderr
    validate = terraform("validate", "-json", cwd=work)
    result = json.loads(validate.stdout)
    assert result["valid"], result["diagnostics"]
    assert result["warning_count"] == 0, result["diagnostics"]


def test_checkov_finds_no_failed_check() -> None:
    assert CHECKOV.exists(), "checkov's venv is missing: run `make setup`"
    scan = ["-d", str(TERRAFORM), "--framework", "terraform", "--skip-download"]
    proc = subprocess.run(
        [str(CHECKOV), *scan, "-o", "json", "--quiet", "--compact"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = json.loads(proc.stdout)
    summary = report["summary"]
    failed = [(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]]
    assert summary["failed"] == 0, failed
    assert summary["passed"] > 100
    assert summary["parsing_errors"] == 0


def test_every_checkov_skip_says_why() -> None:
    skips = checkov_skips()
    assert skips, "expected the justified skips to be found"
    unjustified = [(str(f), check) for f, check, reason in skips if len(reason.split()) < 5]
    assert not unjustified


# --- invariants --------------------------------------------------------------------------------


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


def _ingress_rules() -> list[tuple[str, dict[str, Any]]]:
    config = load()
    rules = [(r.name, r.body) for r in config.of_type("aws_vpc_security_group_ingress_rule")]
    for group in config.of_type("aws_security_group"):
        rules += [(group.name, rule) for rule in group.body.get("ingress", [])]
    rules += [
        (r.name, r.body)
        for r in config.of_type("aws_security_group_rule")
        if r.body.get("type") == "ingress"
    ]
    return rules


def test_no_ingress_from_anywhere_except_the_alb_listeners() -> None:
    open_to_all = {"0.0.0.0/0", "::/0"}
    alb_cidrs = "${toset(var.alb_ingress_cidrs)}"
    for name, rule in _ingress_rules():
        cidrs = {rule.get("cidr_ipv4"), rule.get("cidr_ipv6"), *rule.get("cidr_blocks", [])}
        assert not cidrs & open_to_all, f"{name} is open to the internet"
        if rule.get("for_each") == alb_cidrs:
            # The only rules fed by the user's CIDRs (default 0.0.0.0/0): the ALB's listeners.
            assert rule["security_group_id"] == "${aws_security_group.alb.id}", name
            assert (rule["from_port"], rule["to_port"]) in {(443, 443), (80, 80)}, name
        else:
            assert "referenced_security_group_id" in rule or rule.get("cidr_ipv4") == (
                "${var.vpc_cidr}"
            ), f"{name} must come from a security group or the VPC"


def test_hosts_accept_open_webui_from_the_alb_only_and_no_ssh() -> None:
    host_rules = [
        rule
        for _, rule in _ingress_rules()
        if rule.get("security_group_id") == "${aws_security_group.hosts.id}"
    ]
    assert host_rules == [
        {
            "security_group_id": "${aws_security_group.hosts.id}",
            "description": "Open WebUI from the ALB",
            "referenced_security_group_id": "${aws_security_group.alb.id}",
            "ip_protocol": "tcp",
            "from_port": "${var.app_port}",
            "to_port": "${var.app_port}",
        }
    ]
    assert all(rule.get("from_port") != 22 for _, rule in _ingress_rules())
    # terraform reads the port from the wiring layer rather than keeping a copy of it.
    assert load().locals[".:open_webui_port"] == "${local.wiring.open_webui_port}"
    assert "roles/fleet_wiring/defaults/main/open_webui.yml" in str(load().locals[".:wiring"])


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
    targeted = {group for play in plays for group in re.split(r"[:,]", str(play["hosts"]))}
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


def test_alb_serves_https_only_and_checks_open_webui_health() -> None:
    config = load()
    https = config.one("aws_lb_listener", "https").body
    assert (https["port"], https["protocol"]) == (443, "HTTPS")
    assert https["ssl_policy"].startswith("ELBSecurityPolicy-TLS13")
    (redirect,) = config.one("aws_lb_listener", "http_redirect").body["default_action"]
    assert redirect["type"] == "redirect" and redirect["redirect"][0]["protocol"] == "HTTPS"
    group = config.one("aws_lb_target_group", "open_webui").body
    assert group["health_check"][0]["path"] == "/health"
    assert group["stickiness"][0]["enabled"] is True
    assert config.one("aws_lb", "this").body["drop_invalid_header_fields"] is True


def test_new_hosts_wait_for_ansible_before_serving() -> None:
    asg = load().one("aws_autoscaling_group", "this").body
    (hook,) = asg["initial_lifecycle_hook"]
    assert hook["lifecycle_transition"] == "autoscaling:EC2_INSTANCE_LAUNCHING"
    assert hook["default_result"] == "ABANDON"
    assert asg["health_check_type"] == "ELB"
    assert asg["instance_refresh"][0]["strategy"] == "Rolling"


def test_user_data_script_passes_shellcheck(tmp_path: Path) -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (make setup installs it)")
    template = (TERRAFORM / "modules/fleet/user_data.sh.tftpl").read_text()
    assert "${data_label}" in template and "${data_dir}" in template
    script = tmp_path / "user_data.sh"
    script.write_text(
        template.replace("${data_label}", "llmfleet-data").replace("${data_dir}", "/var/lib/x")
    )
    proc = subprocess.run([shellcheck, str(script)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout
