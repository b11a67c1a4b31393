"""terraform/ without the AWS provider: formatting, checkov, validate (when a local provider
mirror exists) and the invariants the fleet relies on, read from the HCL itself."""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.config import REPO, templated, wired_file
from lab.user_data import HOST_APPLY, TEMPLATE, USER_DATA_LIMIT, fleet_values, render
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
    # terraform reads the wiring's files and Open WebUI's pool sizes, and the user data carries
    # the hosts' self-configuration script
    for defaults in ("fleet_wiring", "open_webui"):
        folder = Path("roles") / defaults / "defaults"
        shutil.copytree(REPO / folder, tmp_path / folder)
    (tmp_path / "tools").mkdir()
    shutil.copy(REPO / "tools" / "host_apply.py", tmp_path / "tools")
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


## Shared state (modules/state), the rag tier (modules/vector_store, module "rag") --------------


def test_shared_state_publishes_what_the_wiring_reads() -> None:
    config = load()
    state = config.modules["state"]
    assert state["secret_names"] == "${local.wiring.fleet_state_secret_names}"
    assert state["state_parameters"] == "${local.wiring.fleet_state_parameters}"
    assert "fleet_state.yml" in str(config.locals[".:wiring"])
    # Every parameter the wiring requires has a value, and nothing else is published.
    published = config.locals["modules/state:state"]
    assert sorted(published) == sorted(wired_file("fleet_state")["fleet_state_parameters"])
    # Under the prefix the inventories read: <Project>/<Environment> (the hosts' tags).
    assert config.locals["modules/state:prefix"] == "${var.project}/${var.environment}"
    for inventory in ("inventories/group_vars/all.yml", "inventories/lab/group_vars/all.yml"):
        prefix = yaml.safe_load((REPO / inventory).read_text())["fleet_state_prefix"]
        assert "tags.Project" in prefix and "tags.Environment" in prefix, inventory
    parameter = config.one("aws_ssm_parameter", "state").body
    assert parameter["name"] == "/${local.prefix}/state/${each.value}"
    assert parameter["type"] == "SecureString" and parameter["key_id"] == "${var.kms_key_arn}"
    secret = config.one("aws_secretsmanager_secret", "fleet").body
    assert secret["name"] == "${local.prefix}/${each.value}"
    assert secret["kms_key_id"] == "${var.kms_key_arn}"
    version = config.one("aws_secretsmanager_secret_version", "fleet").body
    assert version["lifecycle"][0]["ignore_changes"] == ["secret_string"], "generated once"


def test_the_database_is_multi_az_encrypted_private_and_its_master_password_is_rds_managed() -> (
    None
):
    config = load()
    db = config.one("aws_db_instance", "this").body
    assert db["multi_az"] is True and db["publicly_accessible"] is False
    assert db["storage_encrypted"] is True and db["kms_key_id"] == "${var.kms_key_arn}"
    assert db["manage_master_user_password"] is True and "password" not in db
    assert db["master_user_secret_kms_key_id"] == "${var.kms_key_arn}"
    assert db["deletion_protection"] == "${var.database_deletion_protection}"
    assert db["backup_retention_period"] == "${var.database_backup_retention_days}"
    assert config.default("database_deletion_protection") is True
    assert config.default("database_backup_retention_days") >= 7
    parameters = {
        p["name"]: p["value"]
        for p in config.one("aws_db_parameter_group", "this").body["parameter"]
    }
    assert parameters["rds.force_ssl"] == "1"
    assert parameters["max_connections"] == "${tostring(var.database_max_connections)}"


def test_redis_fails_over_across_zones_with_encryption_and_an_auth_token() -> None:
    config = load()
    redis = config.one("aws_elasticache_replication_group", "this").body
    assert redis["automatic_failover_enabled"] is True and redis["multi_az_enabled"] is True
    assert redis["num_cache_clusters"] == "${var.redis_replicas + 1}"
    assert config.default("redis_replicas") >= 1
    assert (
        redis["at_rest_encryption_enabled"] is True and redis["kms_key_id"] == "${var.kms_key_arn}"
    )
    assert redis["transit_encryption_enabled"] is True
    assert (
        "redis_auth_token" in redis["auth_token"] and "secret_version.fleet" in redis["auth_token"]
    )
    assert "redis_auth_token" in wired_file("fleet_state")["fleet_state_secret_names"]


def test_every_bucket_is_private_encrypted_versioned_and_tls_only() -> None:
    """The uploads bucket and the SSM transfer bucket are both modules/private_bucket."""
    config = load()
    assert [b.module for b in config.of_type("aws_s3_bucket")] == ["modules/private_bucket"]
    for path in ("modules/state/main.tf", "modules/iam/main.tf"):
        assert 'source = "../private_bucket"' in " ".join((TERRAFORM / path).read_text().split())
    block = config.one("aws_s3_bucket_public_access_block", "this").body
    public = ("block_public_acls", "block_public_policy", "ignore_public_acls")
    assert all(block[k] is True for k in (*public, "restrict_public_buckets"))
    (rule,) = config.one("aws_s3_bucket_server_side_encryption_configuration", "this").body["rule"]
    default = rule["apply_server_side_encryption_by_default"][0]
    assert default["sse_algorithm"] == '${var.sse_s3 ? "AES256" : "aws:kms"}'
    assert default["kms_master_key_id"] == "${var.sse_s3 ? null : var.kms_key_arn}"
    # KMS for every bucket but the ALB's access logs (ELB delivers to SSE-S3 buckets only).
    calls = re.findall(
        r'^module "([a-z_]+)" \{\n(.*?)^\}$',
        "\n".join(path.read_text() for path in TERRAFORM.glob("modules/*/main.tf")),
        flags=re.MULTILINE | re.DOTALL,
    )
    calls = [(name, body) for name, body in calls if '"../private_bucket"' in body]
    assert len(calls) >= 4
    assert {name for name, body in calls if "sse_s3" in body} == {"access_logs"}
    versioning = config.one("aws_s3_bucket_versioning", "this").body
    assert versioning["versioning_configuration"][0]["status"] == "Enabled"
    policy = next(d for d in config.data if d.name == "tls_only").body
    (deny,) = policy["statement"]
    assert deny["effect"] == "Deny" and deny["condition"][0]["variable"] == "aws:SecureTransport"


def test_the_state_and_the_vector_store_are_reached_from_the_fleet_only() -> None:
    config = load()
    for name in ("database_from_hosts", "redis_from_hosts"):
        rule = config.one("aws_vpc_security_group_ingress_rule", name).body
        assert rule["for_each"] == "${var.client_security_group_ids}"
        assert rule["referenced_security_group_id"] == "${each.value}"
    assert config.modules["state"]["client_security_group_ids"] == {
        "gpu_hosts": "${module.security.host_security_group_id}"
    }
    rag_in = config.one("aws_vpc_security_group_ingress_rule", "rag_hosts_from_lb").body
    assert rag_in["referenced_security_group_id"] == "${aws_security_group.lb.id}"
    nlb = config.one("aws_lb", "vector_store").body
    assert nlb["internal"] is True and nlb["load_balancer_type"] == "network"


def test_hosts_read_exactly_the_shared_state() -> None:
    config = load()
    policy = next(d for d in config.data if d.name == "shared_state").body
    resources = {s["sid"]: s["resources"] for s in policy["statement"]}
    assert resources["FleetSecrets"] == "${var.state_secret_arns}"
    assert resources["UploadsObjects"] == ["${var.uploads_bucket_arn}/*"]
    assert all(r != "*" for rs in resources.values() if isinstance(rs, list) for r in rs)
    assert config.modules["iam"]["state_secret_arns"] == "${local.state_secret_arns}"
    assert "module.state.secret_arns" in config.locals[".:state_secret_arns"]
    assert "database_master_secret_arn" in config.locals[".:state_secret_arns"]


def test_the_operations_role_is_for_this_repository_and_changes_only_the_hosts_in_service() -> None:
    """The drift and rollout workflows' role (AWS_DRIFT_ROLE_ARN): assumed only with GitHub's
    OIDC token for this repository's default branch or its protected environment; sessions only
    to instances with the fleet's tags; the release, the shared state and the target group's
    drain - no write to anything else, no wildcard action, no "*" resource but Describe calls."""
    config = load()
    role = config.modules["operations_role"]
    assert role["count"] == '${var.github_repository == "" ? 0 : 1}'
    assert role["github_environment"] == "${var.environment}"
    assert role["instance_tags"] == "${local.fleet_tags}"
    assert config.locals[".:fleet_tags"] == {
        "Project": "${var.project}",
        "Environment": "${var.environment}",
    }
    for shared in ("state_secret_arns", "state_parameter_path_arn", "release_parameter_arn"):
        assert role[shared] == config.modules["iam"][shared] == f"${{local.{shared}}}"
    (trust,) = next(d for d in config.data if d.name == "trust").body["statement"]
    assert trust["actions"] == ["sts:AssumeRoleWithWebIdentity"]
    conditions = {c["variable"]: c for c in trust["condition"]}
    assert conditions["token.actions.githubusercontent.com:aud"]["values"] == ["sts.amazonaws.com"]
    subject = conditions["token.actions.githubusercontent.com:sub"]
    assert subject["test"] == "StringEquals"  # no wildcard in the subject
    assert subject["values"] == [
        "repo:${var.github_repository}:ref:refs/heads/${var.github_branch}",
        "repo:${var.github_repository}:environment:${var.github_environment}",
    ]
    policy = next(d for d in config.data if d.name == "operate").body
    statements = {s["sid"]: s for s in policy["statement"]}
    for sid, statement in statements.items():
        assert all("*" not in action for action in statement["actions"]), sid
        if statement["resources"] == ["*"]:
            assert all(":Describe" in action for action in statement["actions"]), sid
    writes = {
        a for s in statements.values() for a in s["actions"]
        if not re.search(r":(Get|Describe|List)", a)
    }  # fmt: skip
    assert writes == {
        "ssm:StartSession", "ssm:TerminateSession", "ssm:ResumeSession", "s3:PutObject",
        "s3:DeleteObject", "kms:Decrypt", "kms:GenerateDataKey",
        "elasticloadbalancing:DeregisterTargets", "elasticloadbalancing:RegisterTargets",
    }  # fmt: skip
    sessions = statements["SessionsToTheFleet"]
    assert sessions["dynamic"][0]["condition"]["for_each"] == "${var.instance_tags}"
    assert statements["TransferObjects"]["resources"] == ["${var.ssm_bucket_arn}/*"]
    assert statements["DrainAndReturn"]["resources"] == ["${var.target_group_arn}"]
    assert statements["ReleaseObjects"]["resources"] == ["${var.release_bucket_arn}/releases/*"]


def test_a_host_may_read_the_release_and_mirror_and_complete_only_its_fleets_hooks() -> None:
    """What a self-configuring host's role allows: the release's and the model mirror's objects
    (and listing under models/ only), the one release parameter, and CompleteLifecycleAction
    on the fleet's own auto scaling groups (<project>-<environment>-*)."""
    config = load()
    policy = next(d for d in config.data if d.name == "self_configure").body
    statements = {s["sid"]: s for s in policy["statement"]}
    assert statements["ReleaseObjects"]["resources"] == [
        "${module.release_bucket.arn}/releases/*",
        "${module.release_bucket.arn}/models/*",
    ]
    assert statements["ReleaseObjects"]["actions"] == ["s3:GetObject"]
    (condition,) = statements["MirrorListing"]["condition"]
    assert condition["variable"] == "s3:prefix" and condition["values"] == ["models/*"]
    assert statements["ReleaseParameter"]["resources"] == ["${var.release_parameter_arn}"]
    complete = statements["CompleteOwnLaunch"]
    assert complete["actions"] == ["autoscaling:CompleteLifecycleAction"]
    assert str(complete["resources"][0]).endswith("autoScalingGroupName/${var.name}-*")
    # The mirror is published where the ollama role reads it (the wiring's models_mirror).
    assert config.modules["state"]["models_mirror"] == (
        "s3://${module.iam.release_bucket_name}/models"
    )
    assert config.locals["modules/state:state"]["models_mirror"] == "${var.models_mirror}"


def test_the_fleet_at_its_maximum_size_fits_in_postgresql_max_connections() -> None:
    """Each GPU host's Open WebUI opens up to 2 x (pool + overflow) connections (a sync and an
    async engine); the fleet at fleet_max_size, plus a reserve, must fit in max_connections -
    checked here on the defaults and by terraform itself (an output's precondition) on any
    tfvars."""
    config = load()
    webui = yaml.safe_load((REPO / "roles/open_webui/defaults/main.yml").read_text())
    per_host = 2 * (
        webui["open_webui_database_pool_size"] + webui["open_webui_database_pool_max_overflow"]
    )
    reserved = config.locals[".:database_connections_reserved"]
    needed = config.default("fleet_max_size") * per_host + reserved
    assert needed <= config.default("database_max_connections"), (needed, per_host)
    assert "open_webui_database_pool_size" in config.locals[".:database_connections_per_host"]
    budget = load_outputs()["database_connection_budget"]
    assert "database_max_connections" in budget["precondition"][0]["condition"]


def load_outputs() -> dict[str, Any]:
    import hcl2

    with (TERRAFORM / "outputs.tf").open() as handle:
        parsed = hcl2.load(handle)
    from tests.hcl import clean

    return {name: body for block in clean(parsed)["output"] for name, body in block.items()}


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


@needs_terraform
@pytest.mark.parametrize(
    "numbers",
    [{}, {"fleet_answer_max_tokens": 4096, "fleet_answer_min_tokens_per_second": 7}],
    ids=["the wiring's", "another cap"],
)
def test_the_load_balancers_drain_is_derived_from_the_answer_length_cap(
    tmp_path: Path, numbers: dict[str, int]
) -> None:
    """One value: terraform's drain (deregistration delay, idle timeout) is the wiring's
    fleet_answer_drain_seconds, which rolling_update_drain_timeout exceeds - evaluated by
    terraform itself (console) and by Ansible's templating, for the wiring's numbers and others."""
    wiring = {**wired_file("fleet_answer"), **numbers}
    answers = tmp_path / "fleet_answer.yml"
    answers.write_text(yaml.safe_dump(wiring))
    config = load()
    loaded = f'yamldecode(file("{answers}"))'
    answer_seconds = config.locals[".:answer_seconds"][2:-1].replace("local.answers", loaded)
    drain = config.locals[".:drain_seconds"][2:-1].replace("local.answers", loaded)
    drain = drain.replace("local.answer_seconds", f"({answer_seconds})")
    proc = subprocess.run(
        [str(TERRAFORM_BIN), "console"], input=drain + "\n", cwd=tmp_path,
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout.strip()) == int(templated(wiring, "fleet_answer_drain_seconds"))
    if not numbers:
        assert int(proc.stdout) == 201  # 2048 tokens at 12 tokens/s = 171 s, + 30 s
    assert config.modules["load_balancer"]["drain_seconds"] == "${local.drain_seconds}"
    alb = config.one("aws_lb", "this").body
    group = config.one("aws_lb_target_group", "open_webui").body
    assert alb["idle_timeout"] == group["deregistration_delay"] == "${var.drain_seconds}"
    rolling = (REPO / "playbooks" / "rolling_update.yml").read_text()
    assert "default(fleet_answer_drain_seconds | int + 30)" in rolling


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


def test_alb_access_logs_are_on_and_waf_and_dns_are_options() -> None:
    """Access logs on by default into a private bucket of the fleet's (SSE-S3, which ELB log
    delivery needs; expiring), ELB's account may only put objects under the ALB's prefix; a WAF
    with AWS managed rule groups (known bad inputs - Log4j - among them), a rate limit and its
    log group, and a Route 53 alias record, each behind its variable."""
    config = load()
    assert config.default("alb_access_logs") is True
    assert config.default("waf") is False and config.default("dns_zone_id") == ""
    alb = config.one("aws_lb", "this").body
    (logs,) = alb["access_logs"]
    assert logs["enabled"] == "${var.access_logs}"
    assert logs["bucket"] == "${local.access_logs_bucket}"
    lb = config.modules["load_balancer"]
    assert lb["access_logs"] == "${var.alb_access_logs}" and lb["waf"] == "${var.waf}"
    body = " ".join((TERRAFORM / "modules/load_balancer/main.tf").read_text().split())
    assert "sse_s3 = true expiration_days = var.access_logs_days" in body
    delivery = next(d for d in config.data if d.name == "log_delivery").body
    (put,) = delivery["statement"]
    assert put["actions"] == ["s3:PutObject"]
    assert put["principals"][0]["identifiers"] == ["${data.aws_elb_service_account.this.arn}"]
    acl = config.one("aws_wafv2_web_acl", "this").body
    assert acl["count"] == "${var.waf ? 1 : 0}" and acl["scope"] == "REGIONAL"
    names = {r["name"] for r in acl["rule"]} | set(acl["dynamic"][0]["rule"]["for_each"])
    assert {
        "AWSManagedRulesKnownBadInputsRuleSet",
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesAmazonIpReputationList",
        "rate-per-address",
    } <= names
    association = config.one("aws_wafv2_web_acl_association", "this").body
    assert association["resource_arn"] == "${aws_lb.this.arn}"
    logging = config.one("aws_wafv2_web_acl_logging_configuration", "this").body
    assert "aws_cloudwatch_log_group.waf" in str(logging["log_destination_configs"])
    record = config.one("aws_route53_record", "this").body
    assert record["count"] == '${var.dns_zone_id != "" ? 1 : 0}'
    assert record["alias"][0]["name"] == "${aws_lb.this.dns_name}"
