# The gpu-node image, baked by EC2 Image Builder: a build instance from the base (Debian 12) AMI
# fetches the release the fleet publishes and runs its bake step (tools/image_bake.py), the AMI is
# encrypted with the fleet's key and its id written to an SSM parameter the launch template
# resolves at each launch. The pipeline has no schedule: the deploy starts it when the release's
# bake hash differs from the image's (tools/image.py), then refreshes the group onto it.

data "aws_region" "current" {}

locals {
  component = templatefile("${path.module}/component.yml.tftpl", {
    name       = var.name
    host_apply = file("${path.module}/../../../tools/host_apply.py")
    prefix     = var.state_prefix
    inventory  = "inventories/aws_ec2.yml"
  })
  # Components and recipes are immutable: their names carry the bake procedure's hash, so a
  # changed one is a new component and recipe, created before the old ones go.
  procedure = substr(sha256(local.component), 0, 12)
  tags = {
    Project     = var.project
    Environment = var.environment
    Role        = "gpu-node"
  }
}

resource "aws_imagebuilder_component" "bake" {
  name        = "${var.name}-gpu-node-bake-${local.procedure}"
  version     = "1.0.0"
  platform    = "Linux"
  description = "Bake step of the gpu-node image (tools/image_bake.py from the published release)"
  data        = local.component
  kms_key_id  = var.kms_key_arn
  tags        = local.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_imagebuilder_image_recipe" "gpu_node" {
  name              = "${var.name}-gpu-node-${local.procedure}"
  version           = "1.0.0"
  parent_image      = var.parent_image
  working_directory = "/var/tmp"
  user_data_base64 = base64encode(templatefile("${path.module}/build_user_data.sh.tftpl", {
    region = data.aws_region.current.name
  }))

  component {
    component_arn = aws_imagebuilder_component.bake.arn
  }

  # The hosts keep the agent (their way in); the ssm_agent role manages its version.
  systems_manager_agent {
    uninstall_after_build = false
  }

  block_device_mapping {
    device_name = "/dev/xvda"
    ebs {
      volume_type           = "gp3"
      volume_size           = var.root_volume_size_gb
      encrypted             = true
      kms_key_id            = var.kms_key_arn
      delete_on_termination = true
    }
  }

  tags = local.tags

  lifecycle {
    create_before_destroy = true
    # The base AMI the recipe was made with stays until the bake procedure changes; a newer Debian
    # AMI is picked up then (or with -replace on this recipe). Hosts take security updates
    # unattended in the meantime.
    ignore_changes = [parent_image]
  }
}

resource "aws_imagebuilder_infrastructure_configuration" "this" {
  name                          = "${var.name}-gpu-node"
  description                   = "Build instance of the gpu-node image: private subnet, IMDSv2 only"
  instance_profile_name         = aws_iam_instance_profile.build.name
  instance_types                = [var.build_instance_type]
  subnet_id                     = var.subnet_id
  security_group_ids            = var.security_group_ids
  terminate_instance_on_failure = true

  instance_metadata_options {
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  logging {
    s3_logs {
      s3_bucket_name = var.release_bucket_name
      s3_key_prefix  = "image-builder"
    }
  }

  tags = local.tags
}

resource "aws_imagebuilder_distribution_configuration" "this" {
  name        = "${var.name}-gpu-node"
  description = "The gpu-node AMI, encrypted with the fleet's key; its id in ${var.image_parameter}"

  distribution {
    region = data.aws_region.current.name

    ami_distribution_configuration {
      name       = "${var.name}-gpu-node-{{ imagebuilder:buildDate }}"
      kms_key_id = var.kms_key_arn
      ami_tags   = local.tags
    }

    # The launch template resolves this parameter at each launch (resolve:ssm:...).
    ssm_parameter_configuration {
      parameter_name = var.image_parameter
      data_type      = "aws:ec2:image"
    }
  }

  tags = local.tags
}

resource "aws_imagebuilder_image_pipeline" "gpu_node" {
  name                             = "${var.name}-gpu-node"
  description                      = "Started by the deploy when the release's bake hash is new (tools/image.py)"
  image_recipe_arn                 = aws_imagebuilder_image_recipe.gpu_node.arn
  infrastructure_configuration_arn = aws_imagebuilder_infrastructure_configuration.this.arn
  distribution_configuration_arn   = aws_imagebuilder_distribution_configuration.this.arn
  enhanced_image_metadata_enabled  = true
  status                           = "ENABLED"

  image_tests_configuration {
    image_tests_enabled = true
    timeout_minutes     = 60
  }

  # Images inherit these tags: the lifecycle policy selects them by it.
  tags = local.tags
}

# Until the first bake the parameter names the base AMI: hosts launched before it converge from
# the full release (unbaked), as a mismatched image does. Image Builder writes it afterwards.
resource "aws_ssm_parameter" "image" {
  #checkov:skip=CKV2_AWS_34:An AMI id is no secret, and aws:ec2:image parameters must be String.
  name        = var.image_parameter
  description = "AMI of the gpu-node hosts (written by Image Builder's distribution)"
  type        = "String"
  data_type   = "aws:ec2:image"
  value       = var.parent_image
  tags        = local.tags

  lifecycle {
    ignore_changes = [value]
  }
}

# Retention: the newest images are kept for a rollback (the parameter set back to one of their
# AMIs); older ones are deleted with their snapshots.
resource "aws_imagebuilder_lifecycle_policy" "gpu_node" {
  name           = "${var.name}-gpu-node"
  description    = "Keep the newest ${var.retain_count} gpu-node images; delete older AMIs and snapshots"
  execution_role = module.lifecycle_role.arn
  resource_type  = "AMI_IMAGE"

  policy_detail {
    action {
      type = "DELETE"
      include_resources {
        amis      = true
        snapshots = true
      }
    }
    filter {
      type  = "COUNT"
      value = var.retain_count
    }
  }

  resource_selection {
    tag_map = local.tags
  }

  tags = local.tags
}

module "lifecycle_role" {
  source = "../service_role"

  name_prefix      = "${var.name}-image-lifecycle-"
  description      = "Image Builder's lifecycle policy: deletes the gpu-node images beyond retention"
  service          = "imagebuilder.amazonaws.com"
  managed_policies = ["service-role/EC2ImageBuilderLifecycleExecutionPolicy"]
}

# The build instance: Image Builder's and the Systems Manager agent's managed policies, the
# release it bakes (read), its logs (write), the fleet's key for both.
data "aws_iam_policy_document" "build" {
  statement {
    sid       = "ReadTheRelease"
    actions   = ["s3:GetObject"]
    resources = ["${var.release_bucket_arn}/releases/*"]
  }
  statement {
    sid       = "WriteTheBuildLog"
    actions   = ["s3:PutObject"]
    resources = ["${var.release_bucket_arn}/image-builder/*"]
  }
  statement {
    sid       = "ReadTheReleaseRecord"
    actions   = ["ssm:GetParameter"]
    resources = [var.release_parameter_arn]
  }
  statement {
    sid       = "UseTheFleetKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }
}

module "build_role" {
  source = "../service_role"

  name_prefix      = "${var.name}-image-build-"
  description      = "The gpu-node image's build instance"
  service          = "ec2.amazonaws.com"
  managed_policies = ["AmazonSSMManagedInstanceCore", "EC2InstanceProfileForImageBuilder"]
  inline_policies  = { bake = data.aws_iam_policy_document.build.json }
}

resource "aws_iam_instance_profile" "build" {
  name_prefix = "${var.name}-image-build-"
  role        = module.build_role.name
}
