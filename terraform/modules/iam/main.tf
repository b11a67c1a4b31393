# AWS-managed, least-privilege policies for exactly the two agents the hosts run.
module "host_role" {
  source = "../service_role"

  name_prefix      = "${var.name}-host-"
  description      = "GPU hosts: SSM Session Manager and the CloudWatch agent, nothing else"
  service          = "ec2.amazonaws.com"
  managed_policies = ["AmazonSSMManagedInstanceCore", "CloudWatchAgentServerPolicy"]
}

moved {
  from = aws_iam_role.host
  to   = module.host_role.aws_iam_role.this
}

moved {
  from = aws_iam_role_policy_attachment.managed["AmazonSSMManagedInstanceCore"]
  to   = module.host_role.aws_iam_role_policy_attachment.managed["AmazonSSMManagedInstanceCore"]
}

moved {
  from = aws_iam_role_policy_attachment.managed["CloudWatchAgentServerPolicy"]
  to   = module.host_role.aws_iam_role_policy_attachment.managed["CloudWatchAgentServerPolicy"]
}

resource "aws_iam_instance_profile" "host" {
  name_prefix = "${var.name}-host-"
  role        = module.host_role.name
}

# Ansible's aws_ssm connection moves files through an S3 bucket; the hosts read and write only
# their own objects there, which expire after a day.
module "ssm_bucket" {
  source = "../private_bucket"

  name_prefix     = "${var.name}-ssm-"
  kms_key_arn     = var.kms_key_arn
  expiration_days = 1
  noncurrent_days = 1
  force_destroy   = true
}

moved {
  from = aws_s3_bucket.ssm
  to   = module.ssm_bucket.aws_s3_bucket.this
}

moved {
  from = aws_s3_bucket_public_access_block.ssm
  to   = module.ssm_bucket.aws_s3_bucket_public_access_block.this
}

moved {
  from = aws_s3_bucket_ownership_controls.ssm
  to   = module.ssm_bucket.aws_s3_bucket_ownership_controls.this
}

moved {
  from = aws_s3_bucket_server_side_encryption_configuration.ssm
  to   = module.ssm_bucket.aws_s3_bucket_server_side_encryption_configuration.this
}

moved {
  from = aws_s3_bucket_versioning.ssm
  to   = module.ssm_bucket.aws_s3_bucket_versioning.this
}

moved {
  from = aws_s3_bucket_lifecycle_configuration.ssm
  to   = module.ssm_bucket.aws_s3_bucket_lifecycle_configuration.this
}

data "aws_iam_policy_document" "ssm_bucket" {
  statement {
    sid       = "TransferObjects"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${module.ssm_bucket.arn}/*"]
  }
  statement {
    sid       = "TransferObjectsEncryption"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "ssm_bucket" {
  name   = "ssm-transfer-bucket"
  role   = module.host_role.id
  policy = data.aws_iam_policy_document.ssm_bucket.json
}

# The shared state: the hosts read exactly the fleet's secrets and its state parameters, and
# read and write the uploads bucket's objects (all encrypted with the project's key).
data "aws_iam_policy_document" "shared_state" {
  statement {
    sid       = "FleetSecrets"
    actions   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = var.state_secret_arns
  }
  statement {
    sid       = "StateParameters"
    actions   = ["ssm:GetParametersByPath", "ssm:GetParameter", "ssm:GetParameters"]
    resources = [var.state_parameter_path_arn, "${var.state_parameter_path_arn}/*"]
  }
  statement {
    sid       = "UploadsObjects"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${var.uploads_bucket_arn}/*"]
  }
  statement {
    sid       = "UploadsList"
    actions   = ["s3:ListBucket"]
    resources = [var.uploads_bucket_arn]
  }
  statement {
    sid       = "StateEncryption"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "shared_state" {
  name   = "shared-state"
  role   = module.host_role.id
  policy = data.aws_iam_policy_document.shared_state.json
}

# Releases (tools/release.py publishes them under releases/<version>/; the deploy records the one
# the fleet runs in /<project>/<environment>/release): kept, versioned, encrypted.
module "release_bucket" {
  source = "../private_bucket"

  name_prefix     = "${var.name}-release-"
  kms_key_arn     = var.kms_key_arn
  noncurrent_days = 30
}

# A host configures itself (tools/host_apply.py): it reads the release and the parameter naming
# it and the model mirror beside it (models/, which the deploy fills), finds its own auto scaling
# group and completes the launch lifecycle action - of the fleet's own groups only (their names
# start with <project>-<environment>-).
data "aws_iam_policy_document" "self_configure" {
  statement {
    sid       = "ReleaseObjects"
    actions   = ["s3:GetObject"]
    resources = ["${module.release_bucket.arn}/releases/*", "${module.release_bucket.arn}/models/*"]
  }
  # Listing the mirror's keys turns a model it lacks into "not found" (a 404) rather than "access
  # denied": the host then pulls that model from the registry.
  statement {
    sid       = "MirrorListing"
    actions   = ["s3:ListBucket"]
    resources = [module.release_bucket.arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["models/*"]
    }
  }
  statement {
    sid       = "ReleaseParameter"
    actions   = ["ssm:GetParameter"]
    resources = [var.release_parameter_arn]
  }
  statement {
    sid       = "ReleaseEncryption"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
  statement {
    #checkov:skip=CKV_AWS_356:DescribeAutoScalingInstances has no resource-level permissions.
    sid       = "OwnGroup"
    actions   = ["autoscaling:DescribeAutoScalingInstances"]
    resources = ["*"]
  }
  statement {
    sid       = "CompleteOwnLaunch"
    actions   = ["autoscaling:CompleteLifecycleAction"]
    resources = ["arn:${data.aws_partition.current.partition}:autoscaling:*:*:autoScalingGroup:*:autoScalingGroupName/${var.name}-*"]
  }
}

data "aws_partition" "current" {}

resource "aws_iam_role_policy" "self_configure" {
  name   = "self-configure"
  role   = module.host_role.id
  policy = data.aws_iam_policy_document.self_configure.json
}
