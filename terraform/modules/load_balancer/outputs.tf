output "dns_name" {
  description = "DNS name of the ALB."
  value       = aws_lb.this.dns_name
}

output "arn_suffix" {
  description = "ALB dimension value of its CloudWatch metrics."
  value       = aws_lb.this.arn_suffix
}

output "target_group_arn" {
  description = "Target group of the hosts."
  value       = aws_lb_target_group.open_webui.arn
}

output "target_group_arn_suffix" {
  description = "Target group dimension value of its CloudWatch metrics."
  value       = aws_lb_target_group.open_webui.arn_suffix
}

output "access_logs_bucket" {
  description = "Where the ALB's access logs go (empty: off)."
  value       = var.access_logs ? local.access_logs_bucket : ""
}

output "url" {
  description = "What users open: the DNS record's name when there is one, else the ALB's."
  value       = "https://${var.dns_zone_id != "" ? var.dns_name : aws_lb.this.dns_name}/"
}
