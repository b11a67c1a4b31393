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

variable "access_logs" {
  description = "Write the ALB's access logs to S3."
  type        = bool
}

variable "access_logs_bucket" {
  description = "An existing bucket for the access logs (its policy must let ELB deliver); empty: a bucket of the fleet's, made here."
  type        = string
}

variable "access_logs_days" {
  description = "Days the access logs in the fleet's bucket are kept."
  type        = number
}

variable "kms_key_arn" {
  description = "The project's KMS key (the WAF's log group)."
  type        = string
}

variable "waf" {
  description = "Put a WAF web ACL with AWS managed rule groups (common, known bad inputs, IP reputation) and a per-address rate limit in front of the ALB."
  type        = bool
}

variable "waf_rate_limit" {
  description = "Requests per 5 minutes one client address may send before the WAF blocks it."
  type        = number
}

variable "log_retention_days" {
  description = "Retention of the WAF's log group."
  type        = number
}

variable "dns_zone_id" {
  description = "Route 53 hosted zone of dns_name; empty: no record."
  type        = string
}

variable "dns_name" {
  description = "The name users open (the certificate's), pointed at the ALB when dns_zone_id is set."
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

variable "scim_source_cidrs" {
  description = "The identity provider's SCIM client's ranges: /api/v1/scim/ is forwarded from these only (at most 4: a rule's conditions hold 5 values); empty: closed."
  type        = list(string)
  default     = []
}
