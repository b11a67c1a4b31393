resource "aws_lb" "this" {
  #checkov:skip=CKV2_AWS_28:The WAF is var.waf (off by default: its managed rule groups are charged per request); aws_wafv2_web_acl_association.this attaches it.
  #checkov:skip=CKV2_AWS_76:The optional WAF has AWSManagedRulesKnownBadInputsRuleSet (Log4j), checked in tests/test_terraform_network.py; checkov does not follow the counted association.
  name_prefix                = "llmflt"
  load_balancer_type         = "application"
  internal                   = false
  subnets                    = var.public_subnet_ids
  security_groups            = [var.security_group_id]
  drop_invalid_header_fields = true
  enable_deletion_protection = var.deletion_protection
  # A queued request waits at most about one answer before its first token; a streaming answer is
  # never silent for long, and websockets ping.
  idle_timeout = var.drain_seconds
  tags         = { Name = var.name }

  access_logs {
    enabled = var.access_logs
    bucket  = local.access_logs_bucket
    prefix  = var.name
  }

  depends_on = [module.access_logs]
}

## Access logs: a private bucket of the fleet's (SSE-S3: the only encryption ELB delivers to),
## kept access_logs_days, unless an existing bucket is named -------------------------------------

locals {
  own_access_logs    = var.access_logs && var.access_logs_bucket == ""
  access_logs_bucket = local.own_access_logs ? module.access_logs[0].id : var.access_logs_bucket
}

data "aws_caller_identity" "current" {}

data "aws_elb_service_account" "this" {}

data "aws_iam_policy_document" "log_delivery" {
  statement {
    sid       = "ElbLogDelivery"
    actions   = ["s3:PutObject"]
    resources = ["arn:${data.aws_partition.current.partition}:s3:::${var.name}-alb-logs-*/${var.name}/AWSLogs/${data.aws_caller_identity.current.account_id}/*"]
    principals {
      type        = "AWS"
      identifiers = [data.aws_elb_service_account.this.arn]
    }
  }
}

data "aws_partition" "current" {}

module "access_logs" {
  source = "../private_bucket"
  count  = local.own_access_logs ? 1 : 0

  name_prefix     = "${var.name}-alb-logs-"
  kms_key_arn     = var.kms_key_arn
  sse_s3          = true
  expiration_days = var.access_logs_days
  noncurrent_days = 7
  policy_json     = data.aws_iam_policy_document.log_delivery.json
}

## WAF (an option) -------------------------------------------------------------------------------

resource "aws_wafv2_web_acl" "this" {
  count       = var.waf ? 1 : 0
  name        = "${var.name}-alb"
  description = "AWS managed rule groups and a per-address rate limit in front of Open WebUI."
  scope       = "REGIONAL"

  default_action {
    allow {}
  }

  # Known bad inputs (Log4j's among them) on its own, where scanners look for it.
  rule {
    name     = "AWSManagedRulesKnownBadInputsRuleSet"
    priority = 5
    override_action {
      none {}
    }
    statement {
      managed_rule_group_statement {
        name        = "AWSManagedRulesKnownBadInputsRuleSet"
        vendor_name = "AWS"
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "AWSManagedRulesKnownBadInputsRuleSet"
      sampled_requests_enabled   = true
    }
  }

  dynamic "rule" {
    for_each = {
      AWSManagedRulesCommonRuleSet          = 10
      AWSManagedRulesAmazonIpReputationList = 30
    }
    content {
      name     = rule.key
      priority = rule.value
      override_action {
        none {}
      }
      statement {
        managed_rule_group_statement {
          name        = rule.key
          vendor_name = "AWS"
        }
      }
      visibility_config {
        cloudwatch_metrics_enabled = true
        metric_name                = rule.key
        sampled_requests_enabled   = true
      }
    }
  }

  rule {
    name     = "rate-per-address"
    priority = 40
    action {
      block {}
    }
    statement {
      rate_based_statement {
        limit              = var.waf_rate_limit
        aggregate_key_type = "IP"
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "rate-per-address"
      sampled_requests_enabled   = true
    }
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = "${var.name}-alb"
    sampled_requests_enabled   = true
  }
}

resource "aws_wafv2_web_acl_association" "this" {
  count        = var.waf ? 1 : 0
  resource_arn = aws_lb.this.arn
  web_acl_arn  = aws_wafv2_web_acl.this[0].arn
}

# WAF logs go to a log group whose name starts with aws-waf-logs- (WAF's rule), encrypted.
resource "aws_cloudwatch_log_group" "waf" {
  count             = var.waf ? 1 : 0
  name              = "aws-waf-logs-${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_wafv2_web_acl_logging_configuration" "this" {
  count                   = var.waf ? 1 : 0
  resource_arn            = aws_wafv2_web_acl.this[0].arn
  log_destination_configs = [aws_cloudwatch_log_group.waf[0].arn]
}

## DNS (an option): the certificate's name pointed at the ALB ---------------------------------

resource "aws_route53_record" "this" {
  count   = var.dns_zone_id != "" ? 1 : 0
  zone_id = var.dns_zone_id
  name    = var.dns_name
  type    = "A"
  alias {
    name                   = aws_lb.this.dns_name
    zone_id                = aws_lb.this.zone_id
    evaluate_target_health = true
  }
}

resource "aws_lb_target_group" "open_webui" {
  name_prefix = "owui-"
  vpc_id      = var.vpc_id
  port        = var.app_port
  protocol    = "HTTP"
  target_type = "instance"
  # A host leaving (scale-in, instance refresh, rolling update) finishes its answers first: the
  # auto scaling group waits for the deregistration before it terminates the instance.
  deregistration_delay = var.drain_seconds

  # A host that stops answering is out within interval x unhealthy_threshold = 10 s: until then
  # its sticky users' requests fail (the ALB does not retry them on another host).
  health_check {
    path                = "/health"
    matcher             = "200"
    interval            = 5
    timeout             = 4
    healthy_threshold   = 2
    unhealthy_threshold = 2
  }

  # Open WebUI's websocket sessions stay on one host.
  stickiness {
    type            = "lb_cookie"
    enabled         = true
    cookie_duration = 86400
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.open_webui.arn
  }
}

# SCIM provisioning (/api/v1/scim/): forwarded only from the identity provider's ranges; every other
# caller gets 403 from the load balancer itself, before any host sees the request.
resource "aws_lb_listener_rule" "scim_from_provider" {
  count        = length(var.scim_source_cidrs) > 0 ? 1 : 0
  listener_arn = aws_lb_listener.https.arn
  priority     = 10

  condition {
    path_pattern {
      values = ["/api/v1/scim/*"]
    }
  }
  condition {
    source_ip {
      values = var.scim_source_cidrs
    }
  }
  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.open_webui.arn
  }
}

resource "aws_lb_listener_rule" "scim_closed" {
  listener_arn = aws_lb_listener.https.arn
  priority     = 20

  condition {
    path_pattern {
      values = ["/api/v1/scim/*"]
    }
  }
  action {
    type = "fixed-response"
    fixed_response {
      content_type = "application/json"
      message_body = "{\"detail\":\"SCIM is open only to the identity provider\"}"
      status_code  = "403"
    }
  }
}

resource "aws_lb_listener" "http_redirect" {
  #checkov:skip=CKV_AWS_2:This listener only answers with a permanent redirect to HTTPS.
  #checkov:skip=CKV_AWS_103:No TLS on a listener whose only action is the redirect to HTTPS.
  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"
    redirect {
      port        = "443"
      protocol    = "HTTPS"
      status_code = "HTTP_301"
    }
  }
}
