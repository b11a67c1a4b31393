# The role the drift and rollout workflows assume with GitHub's OIDC token: what applying the
# recorded release to the hosts in service takes, and nothing that changes the infrastructure.
# The token must come from this repository's default branch (the scheduled drift run) or a job
# in its protected environment (rollouts); the deploy role, which applies terraform, is another.

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition = data.aws_partition.current.partition
  region    = data.aws_region.current.name
  account   = data.aws_caller_identity.current.account_id
}

data "aws_iam_policy_document" "trust" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [var.github_oidc_provider_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:sub"
      values = [
        "repo:${var.github_repository}:ref:refs/heads/${var.github_branch}",
        "repo:${var.github_repository}:environment:${var.github_environment}",
      ]
    }
  }
}

data "aws_iam_policy_document" "operate" {
  # The aws_ec2 inventory lists the instances; ELB's Describe calls (the rolling update's
  # drain and health waits) have no resource-level permissions either.
  statement {
    #checkov:skip=CKV_AWS_356:Describe calls of EC2 and ELB have no resource-level permissions.
    sid = "Inventory"
    actions = [
      "ec2:DescribeInstances",
      "elasticloadbalancing:DescribeTargetGroups",
      "elasticloadbalancing:DescribeTargetHealth",
    ]
    resources = ["*"]
  }
  # Sessions (Ansible's aws_ssm connection) to the fleet's own instances only, by their tags.
  statement {
    sid       = "SessionsToTheFleet"
    actions   = ["ssm:StartSession"]
    resources = ["arn:${local.partition}:ec2:${local.region}:${local.account}:instance/*"]
    dynamic "condition" {
      for_each = var.instance_tags
      content {
        test     = "StringEquals"
        variable = "ssm:resourceTag/${condition.key}"
        values   = [condition.value]
      }
    }
  }
  statement {
    sid       = "SessionDocument"
    actions   = ["ssm:StartSession"]
    resources = ["arn:${local.partition}:ssm:${local.region}:${local.account}:document/SSM-SessionManagerRunShell"]
  }
  statement {
    sid       = "OwnSessions"
    actions   = ["ssm:TerminateSession", "ssm:ResumeSession"]
    resources = ["arn:${local.partition}:ssm:*:*:session/$${aws:userid}-*"]
  }
  # The connection's file transfers (presigned URLs the hosts use, then deleted).
  statement {
    sid       = "TransferObjects"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${var.ssm_bucket_arn}/*"]
  }
  statement {
    sid       = "TransferBucket"
    actions   = ["s3:ListBucket"]
    resources = [var.ssm_bucket_arn]
  }
  # The recorded release: its parameter and its artifacts (tools/rollout.py fetches, checks).
  statement {
    sid       = "ReleaseParameter"
    actions   = ["ssm:GetParameter"]
    resources = [var.release_parameter_arn]
  }
  statement {
    sid       = "ReleaseObjects"
    actions   = ["s3:GetObject"]
    resources = ["${var.release_bucket_arn}/releases/*"]
  }
  # The shared state the wiring reads on the controller (addresses, secrets).
  statement {
    sid       = "StateParameters"
    actions   = ["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"]
    resources = [var.state_parameter_path_arn, "${var.state_parameter_path_arn}/*"]
  }
  statement {
    sid       = "StateSecrets"
    actions   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = var.state_secret_arns
  }
  statement {
    sid       = "Encryption"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }
  # The rolling update: a host out of the target group while it changes, and back.
  statement {
    sid       = "DrainAndReturn"
    actions   = ["elasticloadbalancing:DeregisterTargets", "elasticloadbalancing:RegisterTargets"]
    resources = [var.target_group_arn]
  }
}

module "role" {
  source = "../service_role"

  name_prefix     = "${var.name}-operate-"
  description     = "drift and rollout workflows: apply the recorded release to the hosts in service"
  trust_policy    = data.aws_iam_policy_document.trust.json
  inline_policies = { operate = data.aws_iam_policy_document.operate.json }
}
