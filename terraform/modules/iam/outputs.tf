output "instance_profile_name" {
  description = "Instance profile of the GPU hosts."
  value       = aws_iam_instance_profile.host.name
}

output "role_arn" {
  description = "Role of the GPU hosts."
  value       = module.host_role.arn
}

output "ssm_bucket_name" {
  description = "Bucket of the aws_ssm connection's file transfers."
  value       = module.ssm_bucket.id
}

output "ssm_bucket_arn" {
  description = "ARN of the aws_ssm connection's bucket."
  value       = module.ssm_bucket.arn
}

output "release_bucket_arn" {
  description = "ARN of the releases' bucket."
  value       = module.release_bucket.arn
}

output "release_bucket_name" {
  description = "Bucket of the fleet's releases (tools/release.py publish)."
  value       = module.release_bucket.id
}
