resource "aws_lb" "this" {
  #checkov:skip=CKV2_AWS_28:A WAF web ACL is organisation policy (managed rule sets, cost); attach yours with aws_wafv2_web_acl_association.
  #checkov:skip=CKV_AWS_91:Access logs are on when var.access_logs_bucket names a bucket (a log bucket's policy is account-specific).
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
    enabled = var.access_logs_bucket != ""
    bucket  = var.access_logs_bucket
    prefix  = var.name
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
