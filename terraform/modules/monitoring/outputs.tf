output "alarm_topic_arn" {
  description = "SNS topic of the alarms."
  value       = aws_sns_topic.alarms.arn
}

output "log_group_names" {
  description = "Log groups of the services' logs, by service."
  value       = { for service, group in aws_cloudwatch_log_group.service : service => group.name }
}
