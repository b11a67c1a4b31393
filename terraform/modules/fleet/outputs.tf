output "autoscaling_group_name" {
  description = "Name of the auto scaling group."
  value       = aws_autoscaling_group.this.name
}

output "lifecycle_hook_name" {
  description = "Launch lifecycle hook the deploy workflow completes after Ansible."
  value       = "${var.name}-${var.role}-configure"
}

output "launch_template_id" {
  description = "Launch template of the hosts."
  value       = aws_launch_template.this.id
}
