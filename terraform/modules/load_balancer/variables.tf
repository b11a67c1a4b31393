variable "name" {
  description = "Name prefix of every resource."
  type        = string
}

variable "vpc_id" {
  description = "The VPC."
  type        = string
}

variable "public_subnet_ids" {
  description = "Public subnets of the ALB (one per zone)."
  type        = list(string)
}

variable "security_group_id" {
  description = "Security group of the ALB."
  type        = string
}

variable "certificate_arn" {
  description = "ACM certificate of the HTTPS listener."
  type        = string
}

variable "app_port" {
  description = "Open WebUI's port on the hosts."
  type        = number
}

variable "deletion_protection" {
  description = "Protect the ALB from deletion."
  type        = bool
}

variable "access_logs_bucket" {
  description = "Existing bucket for access logs; empty: off."
  type        = string
}

variable "drain_seconds" {
  description = "The longest an answer streams, plus a margin (the wiring's fleet_answer_drain_seconds): a leaving host's deregistration delay and the idle timeout."
  type        = number

  validation {
    condition     = var.drain_seconds >= 1 && var.drain_seconds <= 3600
    error_message = "drain_seconds must be 1 to 3600 (the target group's longest deregistration delay)."
  }
}
