# The rag tier's stable address: an internal network load balancer in front of Chroma on the
# rag-nodes (their auto scaling group registers them), so that every host of the fleet uses the
# one vector store at one name whichever instance runs it. Chroma requires its token.

resource "aws_security_group" "lb" {
  name_prefix = "${var.name}-vector-lb-"
  description = "Vector store's internal load balancer: Chroma from the fleet's hosts"
  vpc_id      = var.vpc_id
  tags        = { Name = "${var.name}-vector-lb" }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group" "rag_hosts" {
  #checkov:skip=CKV2_AWS_5:Attached to the rag-nodes by their launch template in modules/fleet; the check cannot follow module outputs.
  name_prefix = "${var.name}-rag-hosts-"
  description = "rag-nodes: Chroma from the vector store's load balancer only; no SSH"
  vpc_id      = var.vpc_id
  tags        = { Name = "${var.name}-rag-hosts" }

  lifecycle {
    create_before_destroy = true
  }
}

# The rag-nodes are clients too (their fleet-rag queries the one Chroma through the same name).
locals {
  clients = merge(var.client_security_group_ids, { rag_hosts = aws_security_group.rag_hosts.id })
}

resource "aws_vpc_security_group_ingress_rule" "lb_from_clients" {
  for_each                     = local.clients
  security_group_id            = aws_security_group.lb.id
  description                  = "Chroma from the fleet's hosts"
  referenced_security_group_id = each.value
  ip_protocol                  = "tcp"
  from_port                    = var.chroma_port
  to_port                      = var.chroma_port
}

resource "aws_vpc_security_group_egress_rule" "lb_to_rag_hosts" {
  security_group_id            = aws_security_group.lb.id
  description                  = "To Chroma on the rag-nodes"
  referenced_security_group_id = aws_security_group.rag_hosts.id
  ip_protocol                  = "tcp"
  from_port                    = var.chroma_port
  to_port                      = var.chroma_port
}

resource "aws_vpc_security_group_ingress_rule" "rag_hosts_from_lb" {
  security_group_id            = aws_security_group.rag_hosts.id
  description                  = "Chroma from the vector store's load balancer"
  referenced_security_group_id = aws_security_group.lb.id
  ip_protocol                  = "tcp"
  from_port                    = var.chroma_port
  to_port                      = var.chroma_port
}

resource "aws_vpc_security_group_egress_rule" "clients_to_lb" {
  for_each                     = local.clients
  security_group_id            = each.value
  description                  = "To the vector store's load balancer"
  referenced_security_group_id = aws_security_group.lb.id
  ip_protocol                  = "tcp"
  from_port                    = var.chroma_port
  to_port                      = var.chroma_port
}

resource "aws_lb" "vector_store" {
  #checkov:skip=CKV_AWS_91:Access logs of a TCP load balancer inside the VPC record only connections; VPC flow logs (modules/network) already do.
  name_prefix                      = "vecdb-"
  load_balancer_type               = "network"
  internal                         = true
  subnets                          = var.private_subnet_ids
  security_groups                  = [aws_security_group.lb.id]
  enable_deletion_protection       = var.deletion_protection
  enable_cross_zone_load_balancing = true
  tags                             = { Name = "${var.name}-vector-store" }
}

resource "aws_lb_target_group" "chroma" {
  name_prefix          = "chrom-"
  vpc_id               = var.vpc_id
  port                 = var.chroma_port
  protocol             = "TCP"
  target_type          = "instance"
  deregistration_delay = 30

  health_check {
    protocol            = "TCP"
    interval            = 10
    healthy_threshold   = 2
    unhealthy_threshold = 2
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_lb_listener" "chroma" {
  load_balancer_arn = aws_lb.vector_store.arn
  port              = var.chroma_port
  protocol          = "TCP"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.chroma.arn
  }
}

# The rag-nodes' way out: packages and AWS APIs over HTTPS, signed apt mirrors over HTTP, DNS.
resource "aws_vpc_security_group_egress_rule" "rag_hosts_out" {
  for_each = {
    https = { protocol = "tcp", port = 443, cidr = "0.0.0.0/0", what = "HTTPS out (AWS APIs, packages)" }
    http  = { protocol = "tcp", port = 80, cidr = "0.0.0.0/0", what = "HTTP out (signed apt repositories)" }
    dns   = { protocol = "udp", port = 53, cidr = var.vpc_cidr, what = "DNS to the VPC resolver" }
  }
  security_group_id = aws_security_group.rag_hosts.id
  description       = each.value.what
  cidr_ipv4         = each.value.cidr
  ip_protocol       = each.value.protocol
  from_port         = each.value.port
  to_port           = each.value.port
}

# Backups, the fast path back after a lost volume: Data Lifecycle Manager snapshots the data
# volume of every instance tagged as this fleet's rag-node (not its boot volume) on a schedule,
# keeps the last few, and tags each snapshot so that a restore finds it (README: "The vector
# store"). Re-indexing (playbooks/reindex.yml) is the slow path, and also adds what came after
# the snapshot.
# The volumes are encrypted with the fleet's key: their snapshots are too, with the same key.
data "aws_iam_policy_document" "dlm_kms" {
  statement {
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey", "kms:CreateGrant"]
    resources = [var.kms_key_arn]
  }
}

module "dlm_role" {
  source = "../service_role"

  name_prefix      = "${var.name}-vector-dlm-"
  description      = "Data Lifecycle Manager: snapshots of the rag-nodes' data volumes"
  service          = "dlm.amazonaws.com"
  managed_policies = ["service-role/AWSDataLifecycleManagerServiceRole"]
  inline_policies  = { fleet-key = data.aws_iam_policy_document.dlm_kms.json }
}

resource "aws_dlm_lifecycle_policy" "rag_data" {
  description        = "${var.name}: the rag-nodes' data volumes (Chroma)"
  execution_role_arn = module.dlm_role.arn
  state              = "ENABLED"

  policy_details {
    policy_type    = "EBS_SNAPSHOT_MANAGEMENT"
    resource_types = ["INSTANCE"]
    target_tags    = var.rag_host_tags

    parameters {
      exclude_boot_volume = true
      no_reboot           = true
    }

    schedule {
      name      = "every ${var.snapshot_interval_hours} h, last ${var.snapshot_retain}"
      copy_tags = true

      create_rule {
        interval      = var.snapshot_interval_hours
        interval_unit = "HOURS"
        times         = [var.snapshot_time]
      }

      retain_rule {
        count = var.snapshot_retain
      }

      tags_to_add = {
        Backup = "${var.name}-vector-store"
      }
    }
  }
}
