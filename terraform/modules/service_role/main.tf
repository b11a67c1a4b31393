# An IAM role one AWS service assumes (EC2, RDS enhanced monitoring, VPC flow logs, Data
# Lifecycle Manager): its trust policy, the AWS-managed policies it needs and its inline ones.

data "aws_partition" "current" {}

data "aws_iam_policy_document" "assume" {
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
  assume_role_policy = data.aws_iam_policy_document.assume.json
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
