"""terraform/'s IAM: what the hosts and the operations role may do, and nothing more."""

from __future__ import annotations

import re

from tests.hcl import load


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
