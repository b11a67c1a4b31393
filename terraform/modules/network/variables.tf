variable "name" {
  description = "Name prefix of every resource."
  type        = string
}

variable "vpc_cidr" {
  description = "CIDR of the VPC."
  type        = string
}

variable "availability_zone_count" {
  description = "Zones to span (2 or 3)."
  type        = number
}

variable "single_nat_gateway" {
  description = "One NAT gateway shared by all zones instead of one per zone."
  type        = bool
}

variable "kms_key_arn" {
  description = "KMS key of the flow log group."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the flow log group."
  type        = number
}
