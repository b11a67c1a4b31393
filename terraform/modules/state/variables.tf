variable "name" {
  description = "Name prefix of every resource (<project>-<environment>)."
  type        = string
}

variable "project" {
  description = "Project tag; with environment, the prefix of the secrets and SSM parameters the fleet reads."
  type        = string
}

variable "environment" {
  description = "Environment tag."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the fleet."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets (one per availability zone) for the database and Redis."
  type        = list(string)
}

variable "client_security_group_ids" {
  description = "Security groups of the hosts that may reach PostgreSQL and Redis (the GPU hosts) (name -> id; names known at plan time)."
  type        = map(string)
}

variable "kms_key_arn" {
  description = "The project's KMS key: storage, backups, secrets, parameters and the bucket."
  type        = string
}

variable "secret_names" {
  description = "The fleet's secrets (key -> name under <project>/<environment>/), from the wiring's fleet_state_secret_names."
  type        = map(string)
}

variable "state_parameters" {
  description = "The SSM parameters the wiring requires under /<project>/<environment>/state/ (its fleet_state_parameters)."
  type        = list(string)
}

variable "chroma_host" {
  description = "The rag tier's stable address (its internal load balancer's DNS name)."
  type        = string
}

variable "chroma_port" {
  description = "Chroma's port (the wiring's chroma_port)."
  type        = number
}

variable "database_engine_version" {
  description = "PostgreSQL major version of RDS."
  type        = string
}

variable "database_instance_class" {
  description = "RDS instance class."
  type        = string
}

variable "database_allocated_storage_gb" {
  description = "Initial storage of the database (it grows up to 5x on its own)."
  type        = number
}

variable "database_max_connections" {
  description = "PostgreSQL's max_connections (tests/test_terraform_state.py holds the fleet's pools under it)."
  type        = number
}

variable "database_backup_retention_days" {
  description = "Days of automated backups (point-in-time recovery)."
  type        = number
}

variable "database_deletion_protection" {
  description = "Refuse to delete the database (and keep a final snapshot when it is deleted)."
  type        = bool
}

variable "database_name" {
  description = "The application's database."
  type        = string
}

variable "database_user" {
  description = "The application's database user (not the master user, whose password RDS rotates)."
  type        = string
}

variable "redis_node_type" {
  description = "ElastiCache node type."
  type        = string
}

variable "redis_engine_version" {
  description = "Redis OSS engine version of ElastiCache."
  type        = string
}

variable "redis_replicas" {
  description = "Replicas beside the primary (automatic failover needs at least one)."
  type        = number
}

variable "uploads_noncurrent_days" {
  description = "Days a replaced or deleted upload is kept (versioning) before it expires."
  type        = number
}

variable "models_mirror" {
  description = "The fleet's model mirror (s3://<release bucket>/models), published for the ollama role."
  type        = string
}

variable "identity" {
  description = "Single sign-on: whether the fleet has an identity provider, its issuer and the fleet's client ID there (published as identity_issuer and identity_client_id; the hosts turn single sign-on on from them)."
  type        = object({ enabled = bool, issuer = string, client_id = string })
  default     = { enabled = false, issuer = "", client_id = "" }
}

variable "trusted_ca_bundle" {
  description = "PEM certificates of a private CA the hosts trust, published as trusted_ca_bundle (empty: not published)."
  type        = string
  default     = ""
}

variable "identity_client_secret_managed" {
  description = "Whether terraform knows the client's secret (a Cognito pool of the fleet's own) and writes it to oidc-client-secret."
  type        = bool
  default     = false
}

variable "identity_client_secret" {
  description = "The client's secret when identity_client_secret_managed."
  type        = string
  default     = ""
  sensitive   = true
}
