output "arn" {
  description = "The role's ARN (the repository variable AWS_DRIFT_ROLE_ARN)."
  value       = module.role.arn
}
