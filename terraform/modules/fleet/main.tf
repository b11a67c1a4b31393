data "aws_ssm_parameter" "ami" {
  count = var.ami_id == "" && var.image_parameter == "" ? 1 : 0
  name  = var.ami_ssm_parameter
}

locals {
  # The baked image's parameter, resolved by EC2 at each launch (a new image needs no terraform
  # change); else a fixed AMI.
  ami_id = (
    var.image_parameter != "" ? "resolve:ssm:${var.image_parameter}" :
    var.ami_id != "" ? var.ami_id : nonsensitive(data.aws_ssm_parameter.ami[0].value)
  )

  # The launch lifecycle hook each new host completes itself (user data: tools/host_apply.py).
  configure_hook = "${var.name}-${var.role}-configure"
  # Exactly the tags inventories/aws_ec2.yml filters (Project) and groups (Role, Environment) on.
  host_tags = {
    Name        = "${var.name}-${var.role}"
    Project     = var.project
    Role        = var.role
    Environment = var.environment
  }
}

resource "aws_launch_template" "this" {
  name_prefix   = "${var.name}-${var.role}-"
  description   = "${var.role} hosts of ${var.name}; configured by Ansible after launch"
  image_id      = local.ami_id
  instance_type = var.instance_type
  ebs_optimized = true
  # Gzipped (cloud-init unpacks it): the script with tools/host_apply.py inside is over EC2's
  # 16 KB user-data limit as plain text.
  user_data = base64gzip(templatefile("${path.module}/user_data.sh.tftpl", {
    data_label  = "llmfleet-data"
    data_dir    = var.data_dir
    data_volume = true
    log_dir     = var.log_dir
    hook_name   = local.configure_hook
    inventory   = "inventories/aws_ec2.yml"
    host_apply  = file("${path.module}/../../../tools/host_apply.py")
  }))

  iam_instance_profile {
    name = var.instance_profile_name
  }

  network_interfaces {
    associate_public_ip_address = false
    delete_on_termination       = true
    security_groups             = var.security_group_ids
  }

  # IMDSv2 only; one hop, so nothing in a container on the host can reach the credentials.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
    instance_metadata_tags      = "enabled"
  }

  monitoring {
    enabled = true
  }

  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_type           = "gp3"
      volume_size           = var.root_volume_size_gb
      encrypted             = true
      kms_key_id            = var.kms_key_arn
      delete_on_termination = true
    }
  }

  block_device_mappings {
    device_name = "/dev/sdf"
    ebs {
      volume_type           = "gp3"
      volume_size           = var.data_volume_size_gb
      throughput            = 250
      iops                  = 4000
      encrypted             = true
      kms_key_id            = var.kms_key_arn
      delete_on_termination = var.data_volume_delete_on_termination
    }
  }

  tag_specifications {
    resource_type = "instance"
    tags          = local.host_tags
  }

  tag_specifications {
    resource_type = "volume"
    tags          = local.host_tags
  }

  tags = local.host_tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_autoscaling_group" "this" {
  name_prefix         = "${var.name}-${var.role}-"
  vpc_zone_identifier = var.subnet_ids
  min_size            = var.min_size
  max_size            = var.max_size
  desired_capacity    = var.desired_capacity
  target_group_arns   = var.target_group_arns
  # ELB health counts only after the host configured itself: a new host waits in the launch
  # lifecycle hook (below) until its own user data completes it (tools/host_apply.py: CONTINUE
  # once site.yml converged it and its health gates passed, ABANDON otherwise), and the grace
  # period covers that.
  health_check_type         = "ELB"
  health_check_grace_period = var.configure_timeout_seconds
  default_instance_warmup   = 300
  capacity_rebalance        = true
  wait_for_capacity_timeout = "0"
  enabled_metrics           = ["GroupDesiredCapacity", "GroupInServiceInstances", "GroupPendingInstances", "GroupTerminatingInstances"]

  # The launch template with the instance types the group may use, first choice first; On-Demand
  # for the base and the given share above it, Spot for the rest (price-capacity-optimized).
  # Capacity rebalancing replaces a Spot host at risk before its two-minute notice; a host leaves
  # through the same drain as scale-in (the target group's deregistration delay).
  mixed_instances_policy {
    launch_template {
      launch_template_specification {
        launch_template_id = aws_launch_template.this.id
        version            = aws_launch_template.this.latest_version
      }
      dynamic "override" {
        for_each = concat([var.instance_type], var.extra_instance_types)
        content {
          instance_type = override.value
        }
      }
    }
    instances_distribution {
      on_demand_allocation_strategy            = "prioritized"
      on_demand_base_capacity                  = var.on_demand_base_capacity
      on_demand_percentage_above_base_capacity = var.on_demand_percentage_above_base
      spot_allocation_strategy                 = "price-capacity-optimized"
    }
  }

  initial_lifecycle_hook {
    name                 = local.configure_hook
    lifecycle_transition = "autoscaling:EC2_INSTANCE_LAUNCHING"
    heartbeat_timeout    = var.configure_timeout_seconds
    # A host that never completed its own configuration is not put in service.
    default_result = "ABANDON"
  }

  # A new launch template (a new AMI, new user data) replaces the hosts launch-before-terminate:
  # serving capacity never drops below what is in service (100 %), up to twice the hosts at once;
  # each new host configures itself and is in service before an old one is drained (the target
  # group's deregistration delay lets its answers finish) and terminated. A refresh whose hosts
  # fail their hook is rolled back.
  instance_refresh {
    strategy = "Rolling"
    preferences {
      min_healthy_percentage = 100
      max_healthy_percentage = 200
      instance_warmup        = 60
      skip_matching          = true
      auto_rollback          = true
    }
  }

  dynamic "tag" {
    for_each = local.host_tags
    content {
      key                 = tag.key
      value               = tag.value
      propagate_at_launch = true
    }
  }

  lifecycle {
    # Scaling policies own the desired capacity after creation.
    ignore_changes = [desired_capacity]
  }
}

# The fleet's queue: generations in flight per host as a share of its parallel slots (the ollama
# role's gauge through the CloudWatch agent, averaged over the group). A streamed answer is one
# ALB request however long it runs, and one stream can keep a GPU busy, so neither request counts
# nor GPU utilisation see users waiting for a slot; this does (docs/capacity.md).
resource "aws_autoscaling_policy" "generations_in_flight" {
  count                     = var.gpu_scaling ? 1 : 0
  name                      = "${var.name}-${var.role}-in-flight"
  autoscaling_group_name    = aws_autoscaling_group.this.name
  policy_type               = "TargetTrackingScaling"
  estimated_instance_warmup = 300

  target_tracking_configuration {
    target_value = var.in_flight_target_percent
    customized_metric_specification {
      metric_name = "${var.in_flight_metric}_percent"
      namespace   = var.metrics_namespace
      statistic   = "Average"
      metric_dimension {
        name  = "AutoScalingGroupName"
        value = aws_autoscaling_group.this.name
      }
    }
  }
}

resource "aws_autoscaling_policy" "gpu_utilization" {
  count                     = var.gpu_scaling ? 1 : 0
  name                      = "${var.name}-${var.role}-gpu"
  autoscaling_group_name    = aws_autoscaling_group.this.name
  policy_type               = "TargetTrackingScaling"
  estimated_instance_warmup = 300

  target_tracking_configuration {
    target_value = var.gpu_utilization_target
    customized_metric_specification {
      # Emitted by the cloudwatch_agent role, aggregated per auto scaling group.
      metric_name = "nvidia_smi_utilization_gpu"
      namespace   = var.metrics_namespace
      statistic   = "Average"
      metric_dimension {
        name  = "AutoScalingGroupName"
        value = aws_autoscaling_group.this.name
      }
    }
  }
}

# Off-hours: the group's bounds changed on a schedule (an option; none by default).
resource "aws_autoscaling_schedule" "this" {
  for_each               = var.scheduled_scaling
  scheduled_action_name  = each.key
  autoscaling_group_name = aws_autoscaling_group.this.name
  recurrence             = each.value.recurrence
  time_zone              = var.time_zone
  min_size               = each.value.min_size
  max_size               = each.value.max_size
  desired_capacity       = each.value.desired
}
