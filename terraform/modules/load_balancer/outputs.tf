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

output "resource_label" {
  description = "Label of the ALBRequestCountPerTarget scaling metric."
  value       = "${aws_lb.this.arn_suffix}/${aws_lb_target_group.open_webui.arn_suffix}"
}
