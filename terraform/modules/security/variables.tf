variable "name" {
  description = "Name prefix of every resource."
  type        = string
}

variable "vpc_id" {
  description = "The VPC."
  type        = string
}

variable "vpc_cidr" {
  description = "The VPC's CIDR (hosts reach the interface endpoints inside it)."
  type        = string
}

variable "alb_ingress_cidrs" {
  description = "CIDRs allowed to reach the ALB's listeners."
  type        = list(string)
}

variable "app_port" {
  description = "Port Open WebUI listens on, on the hosts."
  type        = number
}
