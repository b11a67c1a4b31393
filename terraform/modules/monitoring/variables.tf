variable "name" {
  description = "Name prefix of every resource."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key of the alarm topic and the log groups."
  type        = string
}

variable "alarm_email" {
  description = "E-mail subscribed to the alarm topic; empty: none."
  type        = string
}

variable "metrics_namespace" {
  description = "Namespace of the CloudWatch agent's metrics."
  type        = string
}

variable "autoscaling_group_name" {
  description = "Auto scaling group whose aggregated metrics are watched."
  type        = string
}

variable "load_balancer_dimension" {
  description = "LoadBalancer dimension (ALB ARN suffix)."
  type        = string
}

variable "target_group_dimension" {
  description = "TargetGroup dimension (target group ARN suffix)."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the hosts' log groups."
  type        = number
}

variable "configure_timeout_seconds" {
  description = "How long a launched host may take to be configured and put in service (the launch lifecycle hook's timeout)."
  type        = number
}
