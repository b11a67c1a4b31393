output "alb_security_group_id" {
  description = "Security group of the ALB."
  value       = aws_security_group.alb.id
}

output "host_security_group_id" {
  description = "Security group of the GPU hosts."
  value       = aws_security_group.hosts.id
}
