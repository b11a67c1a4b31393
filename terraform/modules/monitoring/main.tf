locals {
  # Host metrics: AWS/EC2 for CPU; the rest come from the cloudwatch_agent role, which aggregates
  # them per AutoScalingGroupName (its aggregation_dimensions). tests/terraform checks that each
  # metric below is one the agent config emits, in the same namespace, with the same dimensions.
  host_alarms = {
    cpu-high = {
      namespace   = "AWS/EC2"
      metric_name = "CPUUtilization"
      threshold   = 85
      periods     = 3
      description = "Average CPU of the fleet above 85% for 15 minutes."
    }
    gpu-saturated = {
      namespace   = var.metrics_namespace
      metric_name = "nvidia_smi_utilization_gpu"
      threshold   = 95
      periods     = 3
      description = "Average GPU utilisation above 95% for 15 minutes: scaling cannot keep up."
    }
    memory-high = {
      namespace   = var.metrics_namespace
      metric_name = "mem_used_percent"
      threshold   = 90
      periods     = 2
      description = "Average memory use above 90% for 10 minutes."
    }
    disk-high = {
      namespace   = var.metrics_namespace
      metric_name = "disk_used_percent"
      threshold   = 85
      periods     = 1
      description = "Disk use above 85% (models and vectors fill the data volume)."
    }
  }

  # Load balancer metrics (AWS/ApplicationELB), per target group.
  alb_alarms = {
    unhealthy-hosts = {
      metric_name = "UnHealthyHostCount"
      statistic   = "Maximum"
      threshold   = 0
      description = "At least one host fails Open WebUI's /health check."
    }
    target-5xx = {
      metric_name = "HTTPCode_Target_5XX_Count"
      statistic   = "Sum"
      threshold   = 10
      description = "More than 10 server errors from the hosts in 5 minutes."
    }
    alb-5xx = {
      metric_name = "HTTPCode_ELB_5XX_Count"
      statistic   = "Sum"
      threshold   = 10
      description = "More than 10 errors from the load balancer itself in 5 minutes (no healthy host, timeouts)."
    }
  }

  # Log groups the cloudwatch_agent role ships the services' logs to (and the hosts' own
  # self-configuration log, tools/host_apply.py's).
  services = ["ollama", "open-webui", "chroma", "fleet-rag", "llm-fleet-apply"]
}

resource "aws_sns_topic" "alarms" {
  name              = "${var.name}-alarms"
  kms_master_key_id = var.kms_key_arn
}

resource "aws_sns_topic_subscription" "email" {
  count     = var.alarm_email == "" ? 0 : 1
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

resource "aws_cloudwatch_metric_alarm" "host" {
  for_each            = local.host_alarms
  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric_name
  dimensions          = { AutoScalingGroupName = var.autoscaling_group_name }
  statistic           = "Average"
  period              = 300
  evaluation_periods  = each.value.periods
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "missing"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

# Fewer hosts in service than the group wants, for longer than a new host may take to be
# configured (the launch hook's timeout, plus one period): hosts are failing to configure or to
# launch (capacity, quotas), and scaling is not carrying the load it decided on.
resource "aws_cloudwatch_metric_alarm" "below_desired" {
  alarm_name          = "${var.name}-below-desired"
  alarm_description   = "Fewer GPU hosts in service than desired for longer than a host takes to be configured."
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  evaluation_periods  = ceil(var.configure_timeout_seconds / 300) + 1
  treat_missing_data  = "missing"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]

  metric_query {
    id          = "shortfall"
    expression  = "desired - in_service"
    label       = "Hosts missing from service"
    return_data = true
  }

  metric_query {
    id = "desired"
    metric {
      namespace   = "AWS/AutoScaling"
      metric_name = "GroupDesiredCapacity"
      dimensions  = { AutoScalingGroupName = var.autoscaling_group_name }
      period      = 300
      stat        = "Minimum"
    }
  }

  metric_query {
    id = "in_service"
    metric {
      namespace   = "AWS/AutoScaling"
      metric_name = "GroupInServiceInstances"
      dimensions  = { AutoScalingGroupName = var.autoscaling_group_name }
      period      = 300
      stat        = "Maximum"
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "alb" {
  for_each            = local.alb_alarms
  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = "AWS/ApplicationELB"
  metric_name         = each.value.metric_name
  dimensions          = { LoadBalancer = var.load_balancer_dimension, TargetGroup = var.target_group_dimension }
  statistic           = each.value.statistic
  period              = 300
  evaluation_periods  = 1
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_log_group" "service" {
  for_each          = toset(local.services)
  name              = "/${var.name}/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}
