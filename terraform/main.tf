locals {
  name = "${var.project}-${var.environment}"

  # The tags inventories/aws_ec2.yml filters (Project) and groups (Role, Environment) on.
  fleet_tags  = { Project = var.project, Environment = var.environment }
  common_tags = merge(local.fleet_tags, { ManagedBy = "terraform" })
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

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

  # What the hosts and the operations role read: the shared state's parameters and secrets and
  # the parameter that records the release.
  ssm_arn                  = "arn:${data.aws_partition.current.partition}:ssm:${var.aws_region}:${data.aws_caller_identity.current.account_id}:parameter"
  state_parameter_path_arn = "${local.ssm_arn}/${var.project}/${var.environment}/state"
  release_parameter_arn    = "${local.ssm_arn}/${var.project}/${var.environment}/release"
  state_secret_arns        = concat(module.state.secret_arns, [module.state.database_master_secret_arn])
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

  name                     = local.name
  kms_key_arn              = local.kms_key_arn
  state_secret_arns        = local.state_secret_arns
  state_parameter_path_arn = local.state_parameter_path_arn
  uploads_bucket_arn       = module.state.uploads_bucket_arn
  release_parameter_arn    = local.release_parameter_arn
}

# The drift and rollout workflows' role (the repository variable AWS_DRIFT_ROLE_ARN), where a
# repository is given: GitHub jobs of its default branch or of the environment's protected GitHub
# environment (named as the environment) assume it.
module "operations_role" {
  source = "./modules/operations_role"
  count  = var.github_repository == "" ? 0 : 1

  name                     = local.name
  instance_tags            = local.fleet_tags
  github_repository        = var.github_repository
  github_branch            = var.github_branch
  github_environment       = var.environment
  github_oidc_provider_arn = var.github_oidc_provider_arn
  kms_key_arn              = local.kms_key_arn
  state_secret_arns        = local.state_secret_arns
  state_parameter_path_arn = local.state_parameter_path_arn
  release_parameter_arn    = local.release_parameter_arn
  release_bucket_arn       = module.iam.release_bucket_arn
  ssm_bucket_arn           = module.iam.ssm_bucket_arn
  target_group_arn         = module.load_balancer.target_group_arn
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
  access_logs         = var.alb_access_logs
  access_logs_bucket  = var.alb_access_logs_bucket
  access_logs_days    = var.alb_access_logs_days
  kms_key_arn         = local.kms_key_arn
  waf                 = var.waf
  waf_rate_limit      = var.waf_rate_limit
  log_retention_days  = var.log_retention_days
  dns_zone_id         = var.dns_zone_id
  dns_name            = var.dns_name
  drain_seconds       = local.drain_seconds
  scim_source_cidrs   = var.scim_source_cidrs
}

# Single sign-on: the organisation's issuer (identity_issuer), or a Cognito pool of the fleet's own.
module "identity" {
  source = "./modules/identity"
  count  = var.identity_cognito ? 1 : 0

  name          = local.name
  domain_prefix = var.identity_cognito_domain_prefix != "" ? var.identity_cognito_domain_prefix : local.name
  callback_url  = "${trimsuffix(module.load_balancer.url, "/")}/oauth/oidc/callback"
  logout_url    = module.load_balancer.url
  groups        = var.identity_cognito_groups
}

locals {
  identity = (var.identity_cognito
    ? { enabled = true, issuer = module.identity[0].issuer, client_id = module.identity[0].client_id }
  : { enabled = var.identity_issuer != "", issuer = var.identity_issuer, client_id = var.identity_client_id })
}

module "fleet" {
  source = "./modules/fleet"

  name                            = local.name
  project                         = var.project
  environment                     = var.environment
  role                            = "gpu-node"
  instance_type                   = var.instance_type
  extra_instance_types            = var.extra_instance_types
  on_demand_base_capacity         = var.on_demand_base_capacity
  on_demand_percentage_above_base = var.on_demand_percentage_above_base
  scheduled_scaling               = var.scheduled_scaling
  time_zone                       = var.scheduled_scaling_time_zone
  ami_id                          = var.ami_id
  ami_ssm_parameter               = var.ami_ssm_parameter
  image_parameter                 = var.baked_image ? module.image[0].image_parameter : ""
  subnet_ids                      = module.network.private_subnet_ids
  security_group_ids              = [module.security.host_security_group_id]
  instance_profile_name           = module.iam.instance_profile_name
  kms_key_arn                     = local.kms_key_arn
  root_volume_size_gb             = var.root_volume_size_gb
  data_volume_size_gb             = var.data_volume_size_gb
  data_dir                        = local.wiring.fleet_data_dir
  log_dir                         = local.wiring.fleet_log_dir
  min_size                        = var.fleet_min_size
  desired_capacity                = var.fleet_desired_capacity
  max_size                        = var.fleet_max_size
  target_group_arns               = [module.load_balancer.target_group_arn]
  in_flight_metric                = local.wiring.fleet_in_flight_metric
  in_flight_target_percent        = var.in_flight_target_percent
  gpu_utilization_target          = var.gpu_utilization_target
  metrics_namespace               = var.metrics_namespace
  configure_timeout_seconds       = var.configure_timeout_seconds
}

# The base AMI: ami_id, else the latest Debian 12 from ami_ssm_parameter.
data "aws_ssm_parameter" "base_ami" {
  count = var.ami_id == "" ? 1 : 0
  name  = var.ami_ssm_parameter
}

locals {
  base_ami = var.ami_id != "" ? var.ami_id : nonsensitive(data.aws_ssm_parameter.base_ami[0].value)
  # Where Image Builder publishes the baked gpu-node AMI and the launch template resolves it.
  image_parameter = "/${var.project}/${var.environment}/image/gpu-node"
}

module "image" {
  source = "./modules/image"
  count  = var.baked_image ? 1 : 0

  name                  = local.name
  project               = var.project
  environment           = var.environment
  state_prefix          = "${var.project}/${var.environment}"
  parent_image          = local.base_ami
  image_parameter       = local.image_parameter
  build_instance_type   = var.image_build_instance_type
  retain_count          = var.image_retain_count
  root_volume_size_gb   = var.root_volume_size_gb
  kms_key_arn           = local.kms_key_arn
  subnet_id             = module.network.private_subnet_ids[0]
  security_group_ids    = [module.security.host_security_group_id]
  release_bucket_name   = module.iam.release_bucket_name
  release_bucket_arn    = module.iam.release_bucket_arn
  release_parameter_arn = local.release_parameter_arn
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
  # A new host may take this long to be configured before it is in service: a shortfall that
  # lasts longer is an alarm, not a scale-out in progress.
  configure_timeout_seconds = var.configure_timeout_seconds
}

locals {
  # The wiring layer's values (roles/fleet_wiring/defaults/main/<service>.yml), read rather than
  # copied: Open WebUI's port on the hosts, where the ALB forwards, the data volume's mount,
  # Chroma's port, and the shared state's secret names and parameters.
  wiring = merge(
    yamldecode(file("${path.module}/../roles/fleet_wiring/defaults/main/fleet.yml")),
    yamldecode(file("${path.module}/../roles/fleet_wiring/defaults/main/open_webui.yml")),
    yamldecode(file("${path.module}/../roles/fleet_wiring/defaults/main/chroma.yml")),
    yamldecode(file("${path.module}/../roles/fleet_wiring/defaults/main/fleet_state.yml")),
  )
  open_webui_port = local.wiring.open_webui_port
  chroma_port     = local.wiring.chroma_port

  # The longest an answer streams: the wiring's length cap over the slowest generation rate the
  # fleet is sized for (roles/fleet_wiring/defaults/main/fleet_answer.yml, whose own derivation
  # fleet_answer_drain_seconds is the same sum); the load balancer drains a leaving host and
  # keeps a silent stream open that long.
  answers        = yamldecode(file("${path.module}/../roles/fleet_wiring/defaults/main/fleet_answer.yml"))
  answer_seconds = ceil(local.answers.fleet_answer_max_tokens / local.answers.fleet_answer_min_tokens_per_second)
  drain_seconds  = local.answer_seconds + local.answers.fleet_answer_drain_margin_seconds

  # Open WebUI's database connections per host: each worker's two engines (sync and async), each
  # with its pool and overflow (roles/open_webui/defaults/main.yml); the fleet at its maximum size
  # must fit in PostgreSQL's max_connections with room for the database bootstrap and RDS's own
  # sessions. Workers as the role's auto counts them (vCPUs less open_webui_reserved_vcpus, at
  # least 1) on the largest type the group may launch: g4dn, g5, g6 and g6e have 4 vCPUs per
  # xlarge (g5.xlarge 4, g5.2xlarge 8).
  open_webui_defaults = yamldecode(file("${path.module}/../roles/open_webui/defaults/main.yml"))
  open_webui_workers = max([
    for t in concat([var.instance_type], var.extra_instance_types) :
    max(4 * tonumber(coalesce(regex("\\.([0-9]*)x?large$", t)[0], "1")) - local.open_webui_defaults.open_webui_reserved_vcpus, 1)
  ]...)
  database_connections_per_host = local.open_webui_workers * 2 * (local.open_webui_defaults.open_webui_database_pool_size + local.open_webui_defaults.open_webui_database_pool_max_overflow)
  database_connections_reserved = 10
}

module "state" {
  source = "./modules/state"

  name                           = local.name
  project                        = var.project
  environment                    = var.environment
  vpc_id                         = module.network.vpc_id
  private_subnet_ids             = module.network.private_subnet_ids
  client_security_group_ids      = { gpu_hosts = module.security.host_security_group_id }
  kms_key_arn                    = local.kms_key_arn
  secret_names                   = local.wiring.fleet_state_secret_names
  state_parameters               = local.wiring.fleet_state_parameters
  chroma_host                    = module.vector_store.dns_name
  chroma_port                    = local.chroma_port
  models_mirror                  = "s3://${module.iam.release_bucket_name}/models"
  identity                       = local.identity
  identity_client_secret_managed = var.identity_cognito
  identity_client_secret         = var.identity_cognito ? module.identity[0].client_secret : ""
  trusted_ca_bundle              = var.trusted_ca_bundle
  database_engine_version        = var.database_engine_version
  database_instance_class        = var.database_instance_class
  database_allocated_storage_gb  = var.database_allocated_storage_gb
  database_max_connections       = var.database_max_connections
  database_backup_retention_days = var.database_backup_retention_days
  database_deletion_protection   = var.database_deletion_protection
  database_name                  = "openwebui"
  database_user                  = "open_webui"
  redis_node_type                = var.redis_node_type
  redis_engine_version           = var.redis_engine_version
  redis_replicas                 = var.redis_replicas
  uploads_noncurrent_days        = var.uploads_noncurrent_days
}

module "vector_store" {
  source = "./modules/vector_store"

  name                      = local.name
  vpc_id                    = module.network.vpc_id
  vpc_cidr                  = module.network.vpc_cidr
  private_subnet_ids        = module.network.private_subnet_ids
  client_security_group_ids = { gpu_hosts = module.security.host_security_group_id }
  chroma_port               = local.chroma_port
  deletion_protection       = var.alb_deletion_protection
  kms_key_arn               = local.kms_key_arn
  rag_host_tags             = { Project = var.project, Environment = var.environment, Role = "rag-node" }
  snapshot_interval_hours   = var.rag_snapshot_interval_hours
  snapshot_retain           = var.rag_snapshot_retain
  snapshot_time             = var.rag_snapshot_time
}

# The rag tier: one CPU host running the fleet's Chroma (and fleet-rag), in one zone, its data
# volume kept when the instance goes (re-attaching it to a replacement is the next step).
module "rag" {
  source = "./modules/fleet"

  name                              = local.name
  project                           = var.project
  environment                       = var.environment
  role                              = "rag-node"
  instance_type                     = var.rag_instance_type
  ami_id                            = var.ami_id
  ami_ssm_parameter                 = var.ami_ssm_parameter
  subnet_ids                        = [module.network.private_subnet_ids[0]]
  security_group_ids                = [module.vector_store.rag_hosts_security_group_id]
  instance_profile_name             = module.iam.instance_profile_name
  kms_key_arn                       = local.kms_key_arn
  root_volume_size_gb               = var.root_volume_size_gb
  data_volume_size_gb               = var.rag_data_volume_size_gb
  data_volume_delete_on_termination = false
  data_dir                          = local.wiring.fleet_data_dir
  log_dir                           = local.wiring.fleet_log_dir
  min_size                          = 1
  desired_capacity                  = 1
  max_size                          = 1
  target_group_arns                 = [module.vector_store.target_group_arn]
  gpu_scaling                       = false
  in_flight_metric                  = local.wiring.fleet_in_flight_metric
  in_flight_target_percent          = var.in_flight_target_percent
  gpu_utilization_target            = var.gpu_utilization_target
  metrics_namespace                 = var.metrics_namespace
  configure_timeout_seconds         = var.configure_timeout_seconds
}
