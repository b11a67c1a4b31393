output "alb_dns_name" {
  description = "Point your DNS name (the certificate's) at this; Open WebUI answers on https://<it>/."
  value       = module.load_balancer.dns_name
}

output "autoscaling_group_name" {
  description = "The GPU fleet's auto scaling group (the deploy workflow completes its lifecycle actions)."
  value       = module.fleet.autoscaling_group_name
}

output "lifecycle_hook_name" {
  description = "Launch lifecycle hook that holds new hosts until Ansible has configured them."
  value       = module.fleet.lifecycle_hook_name
}

output "target_group_arn" {
  description = "Target group of the hosts (rolling updates deregister/register here)."
  value       = module.load_balancer.target_group_arn
}

output "ssm_bucket_name" {
  description = "Bucket the aws_ssm connection transfers files through (LLM_FLEET_SSM_BUCKET)."
  value       = module.iam.ssm_bucket_name
}

output "alarm_topic_arn" {
  description = "SNS topic the CloudWatch alarms notify."
  value       = module.monitoring.alarm_topic_arn
}

output "inventory_filters" {
  description = "What inventories/aws_ec2.yml must filter on to find exactly these hosts."
  value = {
    regions = [var.aws_region]
    filters = {
      "tag:Project"         = var.project
      "tag:Environment"     = var.environment
      "instance-state-name" = "running"
    }
  }
}

output "database_connection_budget" {
  description = "PostgreSQL connections the GPU fleet may open at its maximum size, of max_connections."
  value       = "${var.fleet_max_size * local.database_connections_per_host + local.database_connections_reserved} of ${var.database_max_connections}"

  precondition {
    condition     = var.fleet_max_size * local.database_connections_per_host + local.database_connections_reserved <= var.database_max_connections
    error_message = "fleet_max_size x Open WebUI's connections per host (workers x 2 x (pool + overflow)) plus the reserve exceeds database_max_connections: raise it, or shrink the pools in roles/open_webui/defaults/main.yml."
  }
}

output "state_prefix" {
  description = "Where the shared state is published (the inventories' fleet_state_prefix)."
  value       = "${var.project}/${var.environment}"
}

output "vector_store_address" {
  description = "The rag tier's stable address (Chroma behind its internal load balancer)."
  value       = module.vector_store.dns_name
}

output "vector_store_snapshot_policy_id" {
  description = "The Data Lifecycle Manager policy that snapshots the rag-node's data volume (restore: README)."
  value       = module.vector_store.snapshot_policy_id
}

output "release_bucket_name" {
  description = "Where tools/release.py publishes releases (releases/<version>/)."
  value       = module.iam.release_bucket_name
}

output "configure_timeout_seconds" {
  description = "How long a new host may take to configure itself before its launch hook abandons it (the deploy waits that long for the group to be in service)."
  value       = var.configure_timeout_seconds
}

output "url" {
  description = "What users open: https://<dns_name>/ when terraform made the DNS record, else the ALB's own name."
  value       = module.load_balancer.url
}

output "alb_access_logs_bucket" {
  description = "Where the ALB's access logs go (empty: off)."
  value       = module.load_balancer.access_logs_bucket
}

output "database_identifier" {
  description = "RDS PostgreSQL's instance identifier: the deploy snapshots it before a release that migrates Open WebUI's schema."
  value       = module.state.database_identifier
}

output "operations_role_arn" {
  description = "Role of the drift and rollout workflows (repository variable AWS_DRIFT_ROLE_ARN); empty without github_repository."
  value       = try(module.operations_role[0].arn, "")
}

output "image_pipeline_arn" {
  description = "The gpu-node image pipeline; the deploy starts it when the bake hash changes (empty when baked_image is false)."
  value       = var.baked_image ? module.image[0].pipeline_arn : ""
}

output "image_parameter" {
  description = "SSM parameter holding the gpu-node AMI the launch template resolves (empty when baked_image is false)."
  value       = var.baked_image ? module.image[0].image_parameter : ""
}
