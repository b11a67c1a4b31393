variable "project" {
  description = "Project tag on every resource. inventories/aws_ec2.yml filters on tag:Project, so change both together."
  type        = string
  default     = "llm-fleet"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.project))
    error_message = "project must be 2-31 lowercase letters, digits or dashes, starting with a letter."
  }
}

variable "environment" {
  description = "Environment tag (prod, staging, ...); the inventory groups hosts as env_<environment>."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,15}$", var.environment))
    error_message = "environment must be 2-16 lowercase letters, digits or dashes, starting with a letter."
  }
}

variable "aws_region" {
  description = "Region to deploy to (inventories/aws_ec2.yml lists the same region)."
  type        = string
  default     = "us-east-1"
}

variable "availability_zone_count" {
  description = "How many availability zones the VPC and the auto scaling group span."
  type        = number
  default     = 2

  validation {
    condition     = var.availability_zone_count >= 2 && var.availability_zone_count <= 3
    error_message = "availability_zone_count must be 2 or 3."
  }
}

variable "vpc_cidr" {
  description = "CIDR of the VPC; public and private /20 subnets are carved from it per zone."
  type        = string
  default     = "10.40.0.0/16"

  validation {
    condition     = can(cidrnetmask(var.vpc_cidr)) && tonumber(split("/", var.vpc_cidr)[1]) <= 18
    error_message = "vpc_cidr must be an IPv4 CIDR of size /18 or larger."
  }
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all zones (cheaper) instead of one per zone (zone-failure tolerant)."
  type        = bool
  default     = false
}

variable "instance_type" {
  description = "GPU instance type of the fleet (g4dn: T4, g5: A10G, g6/g6e: L4/L40S)."
  type        = string
  default     = "g5.xlarge"

  validation {
    condition     = can(regex("^(g4dn|g5|g6|g6e)\\.[0-9]*x?large$", var.instance_type))
    error_message = "instance_type must be a GPU type of the g4dn, g5, g6 or g6e families, e.g. g5.xlarge."
  }
}

variable "extra_instance_types" {
  description = "Further GPU types the group may launch when instance_type is short (a mixed instances policy, first choice first): g4dn.xlarge's T4 serves fewer streams than g5's A10G, which target tracking absorbs (docs: capacity)."
  type        = list(string)
  default     = ["g4dn.xlarge"]

  validation {
    condition     = alltrue([for t in var.extra_instance_types : can(regex("^(g4dn|g5|g6|g6e)\\.[0-9]*x?large$", t))])
    error_message = "extra_instance_types must be GPU types of the g4dn, g5, g6 or g6e families."
  }
}

variable "on_demand_base_capacity" {
  description = "GPU hosts always On-Demand (the floor users can count on)."
  type        = number
  default     = 1
}

variable "on_demand_percentage_above_base" {
  description = "Percent of the GPU hosts above the base launched On-Demand; below 100 the rest runs on Spot (a Spot reclamation without an earlier rebalance recommendation cuts answers older than its two-minute notice)."
  type        = number
  default     = 100
}

variable "scheduled_scaling" {
  description = "Off-hours: scheduled bounds of the GPU group by name, e.g. { night = { recurrence = \"0 20 * * 1-5\", min_size = 1, max_size = 2, desired = 1 }, morning = { ... } }; none by default."
  type = map(object({
    recurrence = string
    min_size   = number
    max_size   = number
    desired    = number
  }))
  default = {}
}

variable "scheduled_scaling_time_zone" {
  description = "IANA time zone of the scheduled_scaling recurrences."
  type        = string
  default     = "Etc/UTC"
}

variable "ami_id" {
  description = "AMI of the hosts. Empty: the latest Debian 12 AMI from the public SSM parameter ami_ssm_parameter."
  type        = string
  default     = ""

  validation {
    condition     = var.ami_id == "" || can(regex("^ami-[0-9a-f]{8,17}$", var.ami_id))
    error_message = "ami_id must be empty or an AMI id like ami-0123456789abcdef0."
  }
}

variable "ami_ssm_parameter" {
  description = "Public SSM parameter holding the AMI id used when ami_id is empty."
  type        = string
  default     = "/aws/service/debian/release/bookworm/latest/amd64"
}

variable "baked_image" {
  description = "GPU hosts boot a baked gpu-node image (EC2 Image Builder, rebuilt by the deploy when the release's bake hash changes) and fetch the thin release. false: the base AMI, the full release and its converge on every launch."
  type        = bool
  default     = true
}

variable "image_build_instance_type" {
  description = "Instance type of the image's build instance (the NVIDIA driver builds without a GPU)."
  type        = string
  default     = "c7i.xlarge"
}

variable "image_retain_count" {
  description = "Baked gpu-node images kept for a rollback; older AMIs are deleted with their snapshots."
  type        = number
  default     = 3

  validation {
    condition     = var.image_retain_count >= 2 && var.image_retain_count <= 50
    error_message = "image_retain_count must be 2 to 50 (the current image and at least one to roll back to)."
  }
}

variable "root_volume_size_gb" {
  description = "Size of the encrypted gp3 root volume."
  type        = number
  default     = 60

  validation {
    condition     = var.root_volume_size_gb >= 30
    error_message = "root_volume_size_gb must be at least 30 (drivers, CUDA and Python venvs)."
  }
}

variable "data_volume_size_gb" {
  description = "Size of the encrypted gp3 data volume mounted at the wiring's fleet_data_dir (models, vectors, Open WebUI data)."
  type        = number
  default     = 200

  validation {
    condition     = var.data_volume_size_gb >= 50 && var.data_volume_size_gb <= 16384
    error_message = "data_volume_size_gb must be between 50 and 16384."
  }
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for EBS volumes, logs and the SNS topic. Empty: one is created."
  type        = string
  default     = ""
}

variable "fleet_min_size" {
  description = "Minimum number of GPU hosts: 2, one per zone, carries 100 concurrent users on g5.xlarge with an 8B model (docs/capacity.md)."
  type        = number
  default     = 2
}

variable "fleet_desired_capacity" {
  description = "Desired number of GPU hosts at creation (scaling policies move it afterwards)."
  type        = number
  default     = 2
}

variable "fleet_max_size" {
  description = "Maximum number of GPU hosts: 60 carry 3000 concurrent users on g5.xlarge with an 8B model (docs/capacity.md); the account's G-instance vCPU quota must allow it (4 vCPUs each)."
  type        = number
  default     = 60

  validation {
    condition     = var.fleet_max_size >= 1
    error_message = "fleet_max_size must be at least 1."
  }
}

variable "configure_timeout_seconds" {
  description = "How long a new host may take to configure itself in the launch lifecycle hook (it waits for a first release, fetches it, converges site.yml on itself) before the hook abandons it."
  type        = number
  default     = 2700

  validation {
    condition     = var.configure_timeout_seconds >= 300 && var.configure_timeout_seconds <= 7200
    error_message = "configure_timeout_seconds must be between 300 and 7200."
  }
}

variable "in_flight_target_percent" {
  description = "Target tracking: generations in flight (running and queued) per host as a percentage of its parallel slots (Ollama's NUM_PARALLEL for its type), averaged over the group. Below 100 leaves room for the minutes a new host takes (docs/capacity.md)."
  type        = number
  default     = 75

  validation {
    condition     = var.in_flight_target_percent > 0 && var.in_flight_target_percent <= 100
    error_message = "in_flight_target_percent must be above 0 and at most 100."
  }
}

variable "gpu_utilization_target" {
  description = "Target tracking: average GPU utilisation (percent) of the fleet."
  type        = number
  default     = 70

  validation {
    condition     = var.gpu_utilization_target > 0 && var.gpu_utilization_target < 100
    error_message = "gpu_utilization_target must be between 0 and 100 (exclusive)."
  }
}

variable "acm_certificate_arn" {
  description = "ACM certificate for the ALB's HTTPS listener."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/.+$", var.acm_certificate_arn))
    error_message = "acm_certificate_arn must be an ACM certificate ARN."
  }
}

variable "alb_ingress_cidrs" {
  description = "CIDRs allowed to reach the ALB on 443 (and 80, which only redirects to 443)."
  type        = list(string)
  default     = ["0.0.0.0/0"]

  validation {
    condition     = length(var.alb_ingress_cidrs) > 0 && alltrue([for c in var.alb_ingress_cidrs : can(cidrnetmask(c))])
    error_message = "alb_ingress_cidrs must be a non-empty list of IPv4 CIDRs."
  }
}

variable "alb_deletion_protection" {
  description = "Protect the ALB from deletion (turn off before a planned destroy)."
  type        = bool
  default     = true
}

variable "alb_access_logs" {
  description = "Write the ALB's access logs to S3 (on by default)."
  type        = bool
  default     = true
}

variable "alb_access_logs_bucket" {
  description = "An existing S3 bucket for the ALB's access logs (its policy must let ELB deliver). Empty: a private bucket of the fleet's, SSE-S3, expiring after alb_access_logs_days."
  type        = string
  default     = ""
}

variable "alb_access_logs_days" {
  description = "Days the ALB's access logs are kept in the fleet's bucket."
  type        = number
  default     = 90
}

variable "waf" {
  description = "A WAF web ACL in front of the ALB: AWS managed rule groups (common, known bad inputs, IP reputation) and a per-address rate limit, logged to CloudWatch. Off by default (charged per request)."
  type        = bool
  default     = false
}

variable "waf_rate_limit" {
  description = "Requests per 5 minutes one client address may send before the WAF blocks it (a streamed answer is one request)."
  type        = number
  default     = 2000

  validation {
    condition     = var.waf_rate_limit >= 100
    error_message = "waf_rate_limit must be at least 100 (WAF's minimum)."
  }
}

variable "dns_zone_id" {
  description = "Route 53 hosted zone in which to point dns_name at the ALB (an alias record). Empty: no record (point your DNS at the output alb_dns_name)."
  type        = string
  default     = ""
}

variable "dns_name" {
  description = "The name users open - the ACM certificate's - when dns_zone_id is set; also Open WebUI's public URL."
  type        = string
  default     = ""

  validation {
    condition     = var.dns_name == "" || can(regex("^([a-z0-9-]+\\.)+[a-z]{2,}$", var.dns_name))
    error_message = "dns_name must be a DNS name like chat.example.com."
  }
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the agent's metrics; must equal cloudwatch_agent_namespace in Ansible."
  type        = string
  default     = "LLMFleet"
}

variable "alarm_email" {
  description = "E-mail subscribed to the alarm topic. Empty: no subscription (subscribe your own endpoint)."
  type        = string
  default     = ""
}

variable "log_retention_days" {
  description = "Retention of the VPC flow logs and the hosts' log groups."
  type        = number
  default     = 365
}

## The rag tier (the fleet's one vector store) ---------------------------------------------------

variable "rag_instance_type" {
  description = "CPU instance type of the rag-nodes (Chroma and fleet-rag; memory-optimised fits a large collection)."
  type        = string
  default     = "r7i.large"

  validation {
    condition     = can(regex("^(m|c|r)[5-8][a-z]*\\.[0-9]*x?large$", var.rag_instance_type))
    error_message = "rag_instance_type must be a general, compute or memory-optimised CPU type (m, c or r families 5-8), e.g. r7i.large."
  }
}

variable "rag_data_volume_size_gb" {
  description = "Size of the rag-node's data volume (Chroma's vectors); it outlives its instance."
  type        = number
  default     = 100

  validation {
    condition     = var.rag_data_volume_size_gb >= 20 && var.rag_data_volume_size_gb <= 16384
    error_message = "rag_data_volume_size_gb must be between 20 and 16384."
  }
}

variable "rag_snapshot_interval_hours" {
  description = "Hours between snapshots of the rag-node's data volume (Data Lifecycle Manager: 1, 2, 3, 4, 6, 8, 12 or 24)."
  type        = number
  default     = 24
}

variable "rag_snapshot_retain" {
  description = "Snapshots of the rag-node's data volume kept (the last N)."
  type        = number
  default     = 7
}

variable "rag_snapshot_time" {
  description = "UTC time (hh:mm) the rag-node's snapshot schedule starts from."
  type        = string
  default     = "03:00"
}

## Shared state (modules/state) ----------------------------------------------------------------

variable "database_instance_class" {
  description = "RDS PostgreSQL instance class."
  type        = string
  default     = "db.r6g.large"
}

variable "database_engine_version" {
  description = "RDS PostgreSQL major version."
  type        = string
  default     = "16"
}

variable "database_allocated_storage_gb" {
  description = "Initial database storage (autoscaling up to 5x)."
  type        = number
  default     = 100

  validation {
    condition     = var.database_allocated_storage_gb >= 20
    error_message = "database_allocated_storage_gb must be at least 20."
  }
}

variable "database_max_connections" {
  description = "PostgreSQL's max_connections; must hold fleet_max_size x Open WebUI's connections per host (its workers x 8) plus reserve (tests/test_terraform_state.py checks it): 60 x 16 + 10 = 970 of 1000 by default (two workers on g5.xlarge and g4dn.xlarge; a 2xlarge's six need 48 a host), within what db.r6g.large's 16 GiB serves."
  type        = number
  default     = 1000

  validation {
    condition     = var.database_max_connections >= 50 && var.database_max_connections <= 5000
    error_message = "database_max_connections must be between 50 and 5000."
  }
}

variable "database_backup_retention_days" {
  description = "Days of automated database backups (point-in-time recovery)."
  type        = number
  default     = 14

  validation {
    condition     = var.database_backup_retention_days >= 1 && var.database_backup_retention_days <= 35
    error_message = "database_backup_retention_days must be 1-35 (0 would turn backups off)."
  }
}

variable "database_deletion_protection" {
  description = "Refuse to delete the database; a deletion keeps a final snapshot."
  type        = bool
  default     = true
}

variable "redis_node_type" {
  description = "ElastiCache Redis node type."
  type        = string
  default     = "cache.r7g.large"
}

variable "redis_engine_version" {
  description = "ElastiCache Redis OSS version."
  type        = string
  default     = "7.1"
}

variable "redis_replicas" {
  description = "Redis replicas beside the primary, in other zones (automatic failover needs one)."
  type        = number
  default     = 1

  validation {
    condition     = var.redis_replicas >= 1 && var.redis_replicas <= 5
    error_message = "redis_replicas must be 1-5."
  }
}

variable "uploads_noncurrent_days" {
  description = "Days a replaced or deleted upload stays recoverable in the bucket."
  type        = number
  default     = 30
}

variable "github_repository" {
  description = "owner/name of the repository whose drift and rollout workflows operate the fleet (the role output operations_role_arn); empty: no such role."
  type        = string
  default     = ""

  validation {
    condition     = var.github_repository == "" || can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must be owner/name (or empty)."
  }
}

variable "github_branch" {
  description = "The repository's default branch: its scheduled drift runs assume the operations role."
  type        = string
  default     = "main"
}

variable "github_oidc_provider_arn" {
  description = "The account's IAM OIDC provider for token.actions.githubusercontent.com (the deploy role's too); needed with github_repository."
  type        = string
  default     = ""

  validation {
    condition     = var.github_oidc_provider_arn == "" || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:oidc-provider/token\\.actions\\.githubusercontent\\.com$", var.github_oidc_provider_arn))
    error_message = "github_oidc_provider_arn must be the ARN of the token.actions.githubusercontent.com OIDC provider."
  }
}

## Identity ----------------------------------------------------------------------------------------

variable "identity_issuer" {
  description = "The organisation's OpenID Connect issuer (Entra ID, Okta, Google, Keycloak, Cognito: its https URL, whose /.well-known/openid-configuration the hosts read); empty: local accounts only. Put the client's secret in the <project>/<environment>/oidc-client-secret secret (docs/identity.md)."
  type        = string
  default     = ""

  validation {
    condition     = var.identity_issuer == "" || can(regex("^https://[^/\\s]+(/.*)?$", var.identity_issuer))
    error_message = "identity_issuer must be an https URL (or empty)."
  }
}

variable "identity_client_id" {
  description = "The fleet's client ID at the identity provider (its redirect URI: https://<dns_name>/oauth/oidc/callback); needed with identity_issuer."
  type        = string
  default     = ""

  validation {
    condition     = (var.identity_issuer == "") == (var.identity_client_id == "")
    error_message = "identity_client_id and identity_issuer go together: set both or neither."
  }
}

variable "trusted_ca_bundle" {
  description = "PEM certificates of a private CA the hosts trust (the identity provider's, where its certificate is from the organisation's own CA), published as the trusted_ca_bundle parameter; every host adds it to its system store. Empty: the public CAs only."
  type        = string
  default     = ""

  validation {
    condition     = var.trusted_ca_bundle == "" || (strcontains(var.trusted_ca_bundle, "-----BEGIN CERTIFICATE-----") && length(var.trusted_ca_bundle) <= 4096)
    error_message = "trusted_ca_bundle must be PEM certificates (-----BEGIN CERTIFICATE-----), at most 4096 characters (one SSM parameter), or empty."
  }
}

variable "identity_cognito" {
  description = "Create a Cognito user pool as the fleet's identity provider (its app client, hosted sign-in domain and groups), for an organisation that brings none; exclusive with identity_issuer. Set open_webui_oidc_groups_claim to cognito:groups."
  type        = bool
  default     = false

  validation {
    condition     = !(var.identity_cognito && var.identity_issuer != "")
    error_message = "identity_cognito and identity_issuer exclude each other: the fleet has one identity provider."
  }
}

variable "identity_cognito_domain_prefix" {
  description = "The Cognito pool's hosted sign-in prefix (https://<prefix>.auth.<region>.amazoncognito.com, unique in the region); empty: <project>-<environment>."
  type        = string
  default     = ""

  validation {
    condition     = var.identity_cognito_domain_prefix == "" || can(regex("^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", var.identity_cognito_domain_prefix))
    error_message = "identity_cognito_domain_prefix is lower-case letters, digits and hyphens (at most 63)."
  }
}

variable "identity_cognito_groups" {
  description = "The Cognito pool's groups: those open_webui_oidc_user_groups and open_webui_oidc_admin_groups name."
  type        = list(string)
  default     = ["llm-users", "llm-admins"]
}

variable "scim_source_cidrs" {
  description = "Where the identity provider's SCIM client calls from (its published egress ranges, at most 4): the load balancer forwards /api/v1/scim/ from these only and answers 403 to everyone else; empty: SCIM closed at the load balancer."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.scim_source_cidrs) <= 4 && alltrue([for c in var.scim_source_cidrs : can(cidrnetmask(c)) && c != "0.0.0.0/0"])
    error_message = "scim_source_cidrs holds at most 4 IPv4 CIDRs, none of them 0.0.0.0/0."
  }
}
