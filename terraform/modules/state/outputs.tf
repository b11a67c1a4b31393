output "secret_arns" {
  description = "The fleet's secrets (the hosts may read exactly these)."
  value       = [for secret in aws_secretsmanager_secret.fleet : secret.arn]
}

output "database_master_secret_arn" {
  description = "RDS's managed master secret (the database bootstrap reads it once)."
  value       = aws_db_instance.this.master_user_secret[0].secret_arn
}

output "parameter_arns" {
  description = "The shared-state parameters (the hosts may read exactly these)."
  value       = [for parameter in aws_ssm_parameter.state : parameter.arn]
}

output "uploads_bucket_arn" {
  description = "The uploads bucket."
  value       = module.uploads.arn
}

output "database_endpoint" {
  description = "RDS PostgreSQL's endpoint."
  value       = aws_db_instance.this.endpoint
}

output "database_identifier" {
  description = "RDS PostgreSQL's instance identifier (the deploy snapshots it before a schema change)."
  value       = aws_db_instance.this.identifier
}

output "redis_endpoint" {
  description = "ElastiCache's primary endpoint."
  value       = aws_elasticache_replication_group.this.primary_endpoint_address
}
