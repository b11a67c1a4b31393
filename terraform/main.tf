locals {
  name = "${var.project}-${var.environment}"

  # The tags inventories/aws_ec2.yml filters (Project) and groups (Role, Environment) on.
  common_tags = {
    Project     = var.project
    Environment = var.environment
    ManagedBy   = "terraform"
  }
}

data "aws_caller_identity" "current" {}

resource "aws_kms_key" "fleet" {
  count                   = var.kms_key_arn == "" ? 1 : 0
  description             = "${local.name}: EBS volumes, log groups and the alarm topic"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json
}

resource "aws_kms_alias" "fleet" {
  count         = var.kms_key_arn == "" ? 1 : 0
  name          = "alias/${local.name}"
  target_key_id = aws_kms_key.fleet[0].key_id
}

locals {
  kms_key_arn = var.kms_key_arn != "" ? var.kms_key_arn : aws_kms_key.fleet[0].arn
}

module "network" {
  source = "./modules/network"

  name                    = local.name
  vpc_cidr                = var.vpc_cidr
  availability_zone_count = var.availability_zone_count
  single_nat_gateway      = var.single_nat_gateway
  kms_key_arn             = local.kms_key_arn
  log_retention_days      = var.log_retention_days
}

module "security" {
  source = "./modules/security"

  name              = local.name
  vpc_id            = module.network.vpc_id
  vpc_cidr          = module.network.vpc_cidr
  alb_ingress_cidrs = var.alb_ingress_cidrs
  app_port          = local.open_webui_port
}

module "iam" {
  source = "./modules/iam"

  name        = local.name
  kms_key_arn = local.kms_key_arn
}

module "load_balancer" {
  source = "./modules/load_balancer"

  name                = local.name
  vpc_id              = module.network.vpc_id
  public_subnet_ids   = module.network.public_subnet_ids
  security_group_id   = module.security.alb_security_group_id
  certificate_arn     = var.acm_certificate_arn
  app_port            = local.open_webui_port
  deletion_protection = var.alb_deletion_protection
  access_logs_bucket  = var.alb_access_logs_bucket
}

module "fleet" {
  source = "./modules/fleet"

  name                      = local.name
  project                   = var.project
  environment               = var.environment
  role                      = "gpu-node"
  instance_type             = var.instance_type
  ami_id                    = var.ami_id
  ami_ssm_parameter         = var.ami_ssm_parameter
  subnet_ids                = module.network.private_subnet_ids
  security_group_ids        = [module.security.host_security_group_id]
  instance_profile_name     = module.iam.instance_profile_name
  kms_key_arn               = local.kms_key_arn
  root_volume_size_gb       = var.root_volume_size_gb
  data_volume_size_gb       = var.data_volume_size_gb
  data_dir                  = local.wiring.fleet_data_dir
  min_size                  = var.fleet_min_size
  desired_capacity          = var.fleet_desired_capacity
  max_size                  = var.fleet_max_size
  target_group_arns         = [module.load_balancer.target_group_arn]
  alb_resource_label        = module.load_balancer.resource_label
  requests_per_target       = var.requests_per_target
  gpu_utilization_target    = var.gpu_utilization_target
  metrics_namespace         = var.metrics_namespace
  configure_timeout_seconds = var.configure_timeout_seconds
}

module "monitoring" {
  source = "./modules/monitoring"

  name                    = local.name
  kms_key_arn             = local.kms_key_arn
  alarm_email             = var.alarm_email
  metrics_namespace       = var.metrics_namespace
  autoscaling_group_name  = module.fleet.autoscaling_group_name
  load_balancer_dimension = module.load_balancer.arn_suffix
  target_group_dimension  = module.load_balancer.target_group_arn_suffix
  log_retention_days      = var.log_retention_days
}

locals {
  # The wiring layer's values (roles/fleet_wiring/defaults/main/<service>.yml), read rather than
  # copied: Open WebUI's port on the hosts, where the ALB forwards, and the data volume's mount.
  wiring = merge(
    yamldecode(file("${path.module}/../roles/fleet_wiring/defaults/main/fleet.yml")),
    yamldecode(file("${path.module}/../roles/fleet_wiring/defaults/main/open_webui.yml")),
  )
  open_webui_port = local.wiring.open_webui_port
}
