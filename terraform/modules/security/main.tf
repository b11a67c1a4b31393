# Two groups: the ALB (the only thing reachable from outside, on 443 and the 80 → 443 redirect)
# and the hosts (Open WebUI's port from the ALB's group only; no SSH: Ansible comes through SSM).

resource "aws_security_group" "alb" {
  #checkov:skip=CKV2_AWS_5:Attached to the ALB in modules/load_balancer; the check cannot follow module outputs.
  name_prefix = "${var.name}-alb-"
  description = "ALB: HTTPS (and HTTP redirect) from the allowed CIDRs"
  vpc_id      = var.vpc_id
  tags        = { Name = "${var.name}-alb" }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  for_each          = toset(var.alb_ingress_cidrs)
  security_group_id = aws_security_group.alb.id
  description       = "HTTPS listener"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_security_group_ingress_rule" "alb_http_redirect" {
  #checkov:skip=CKV_AWS_260:Port 80 of the ALB only answers a 301 to HTTPS (aws_lb_listener.http_redirect); nothing is served on it.
  for_each          = toset(var.alb_ingress_cidrs)
  security_group_id = aws_security_group.alb.id
  description       = "HTTP listener (redirects to HTTPS only)"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
}

resource "aws_vpc_security_group_egress_rule" "alb_to_hosts" {
  security_group_id            = aws_security_group.alb.id
  description                  = "To Open WebUI on the hosts"
  referenced_security_group_id = aws_security_group.hosts.id
  ip_protocol                  = "tcp"
  from_port                    = var.app_port
  to_port                      = var.app_port
}

resource "aws_security_group" "hosts" {
  #checkov:skip=CKV2_AWS_5:Attached to the hosts by the launch template in modules/fleet; the check cannot follow module outputs.
  name_prefix = "${var.name}-hosts-"
  description = "GPU hosts: Open WebUI from the ALB only; egress HTTPS/HTTP for packages and AWS APIs"
  vpc_id      = var.vpc_id
  tags        = { Name = "${var.name}-hosts" }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "hosts_from_alb" {
  security_group_id            = aws_security_group.hosts.id
  description                  = "Open WebUI from the ALB"
  referenced_security_group_id = aws_security_group.alb.id
  ip_protocol                  = "tcp"
  from_port                    = var.app_port
  to_port                      = var.app_port
}

# Egress through the NAT gateway: package mirrors, PyPI/artifact stores and model downloads
# (HTTPS, and HTTP for Debian's signed apt mirrors). Nothing else leaves the hosts.
resource "aws_vpc_security_group_egress_rule" "hosts_https" {
  security_group_id = aws_security_group.hosts.id
  description       = "HTTPS out (AWS APIs via endpoints, packages, models)"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_security_group_egress_rule" "hosts_http" {
  security_group_id = aws_security_group.hosts.id
  description       = "HTTP out (signed apt repositories)"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
}

resource "aws_vpc_security_group_egress_rule" "hosts_dns" {
  security_group_id = aws_security_group.hosts.id
  description       = "DNS to the VPC resolver"
  cidr_ipv4         = var.vpc_cidr
  ip_protocol       = "udp"
  from_port         = 53
  to_port           = 53
}
