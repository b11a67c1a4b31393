"""terraform/'s shared state: PostgreSQL, Redis and the buckets private, encrypted and reached from
the fleet only; what it publishes is what the wiring reads."""

from __future__ import annotations

import re

import yaml

from benchmarks.load import sizing
from fleetlib.hcl import TERRAFORM
from fleetlib.paths import REPO
from fleetlib.wiring import wired_file
from tests.hcl import load, load_outputs


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


def test_the_fleet_at_its_maximum_size_fits_in_postgresql_max_connections() -> None:
    """Each worker of a GPU host's Open WebUI opens up to 2 x (pool + overflow) connections (a
    sync and an async engine), two workers on the default types (g5.xlarge, g4dn.xlarge); the
    fleet at fleet_max_size, plus a reserve, must fit in max_connections - checked here on the
    defaults and by terraform itself (an output's precondition) on any tfvars."""
    config = load()
    webui = yaml.safe_load((REPO / "roles/open_webui/defaults/main.yml").read_text())
    workers = max(
        sizing.workers(sizing.inputs(), t)
        for t in [config.default("instance_type"), *config.default("extra_instance_types")]
    )
    per_host = (
        workers
        * 2
        * (webui["open_webui_database_pool_size"] + webui["open_webui_database_pool_max_overflow"])
    )
    reserved = config.locals[".:database_connections_reserved"]
    needed = config.default("fleet_max_size") * per_host + reserved
    assert needed <= config.default("database_max_connections"), (needed, per_host)
    assert "open_webui_database_pool_size" in config.locals[".:database_connections_per_host"]
    assert "local.open_webui_workers" in config.locals[".:database_connections_per_host"]
    budget = load_outputs()["database_connection_budget"]
    assert "database_max_connections" in budget["precondition"][0]["condition"]
