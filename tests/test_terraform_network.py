"""terraform/'s network and load balancer: no ingress from anywhere but the ALB's listeners, HTTPS
only, the drain derived from the wiring's answer length cap, access logs."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from fleetlib.hcl import TERRAFORM
from fleetlib.paths import REPO
from fleetlib.wiring import templated, wired_file
from tests.hcl import TERRAFORM_BIN, load, needs_terraform


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
