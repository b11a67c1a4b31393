# An IAM role one AWS service assumes (EC2, RDS enhanced monitoring, VPC flow logs, Data
# Lifecycle Manager), or whoever a given trust policy names (GitHub's OIDC token): its trust
# policy, the AWS-managed policies it needs and its inline ones.

data "aws_partition" "current" {}

data "aws_iam_policy_document" "assume" {
  count = var.trust_policy == null ? 1 : 0
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = [var.service]
    }
  }
}

resource "aws_iam_role" "this" {
  name_prefix        = var.name_prefix
  description        = var.description
  assume_role_policy = var.trust_policy == null ? data.aws_iam_policy_document.assume[0].json : var.trust_policy

  lifecycle {
    precondition {
      condition     = (var.service == null) != (var.trust_policy == null)
      error_message = "service_role: set exactly one of service and trust_policy."
    }
  }
}

resource "aws_iam_role_policy_attachment" "managed" {
  for_each   = var.managed_policies
  role       = aws_iam_role.this.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/${each.key}"
}

resource "aws_iam_role_policy" "inline" {
  for_each = var.inline_policies
  name     = each.key
  role     = aws_iam_role.this.id
  policy   = each.value
}
