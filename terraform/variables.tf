variable "project" {
  description = "Project tag on every resource. inventories/aws_ec2.yml filters on tag:Project, so change both together."
  type        = string
  default     = "llm-fleet"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.project))
    error_message = "project must be 2-31 lowercase letters, digits or dashes, starting with a letter."
  }
}

variable "environment" {
  description = "Environment tag (prod, staging, ...); the inventory groups hosts as env_<environment>."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,15}$", var.environment))
    error_message = "environment must be 2-16 lowercase letters, digits or dashes, starting with a letter."
  }
}

variable "aws_region" {
  description = "Region to deploy to (inventories/aws_ec2.yml lists the same region)."
  type        = string
  default     = "us-east-1"
}

variable "availability_zone_count" {
  description = "How many availability zones the VPC and the auto scaling group span."
  type        = number
  default     = 2

  validation {
    condition     = var.availability_zone_count >= 2 && var.availability_zone_count <= 3
    error_message = "availability_zone_count must be 2 or 3."
  }
}

variable "vpc_cidr" {
  description = "CIDR of the VPC; public and private /20 subnets are carved from it per zone."
  type        = string
  default     = "10.40.0.0/16"

  validation {
    condition     = can(cidrnetmask(var.vpc_cidr)) && tonumber(split("/", var.vpc_cidr)[1]) <= 18
    error_message = "vpc_cidr must be an IPv4 CIDR of size /18 or larger."
  }
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all zones (cheaper) instead of one per zone (zone-failure tolerant)."
  type        = bool
  default     = false
}

variable "instance_type" {
  description = "GPU instance type of the fleet (g4dn: T4, g5: A10G, g6/g6e: L4/L40S)."
  type        = string
  default     = "g5.xlarge"

  validation {
    condition     = can(regex("^(g4dn|g5|g6|g6e)\\.[0-9]*x?large$", var.instance_type))
    error_message = "instance_type must be a GPU type of the g4dn, g5, g6 or g6e families, e.g. g5.xlarge."
  }
}

variable "ami_id" {
  description = "AMI of the hosts. Empty: the latest Debian 12 AMI from the public SSM parameter ami_ssm_parameter."
  type        = string
  default     = ""

  validation {
    condition     = var.ami_id == "" || can(regex("^ami-[0-9a-f]{8,17}$", var.ami_id))
    error_message = "ami_id must be empty or an AMI id like ami-0123456789abcdef0."
  }
}

variable "ami_ssm_parameter" {
  description = "Public SSM parameter holding the AMI id used when ami_id is empty."
  type        = string
  default     = "/aws/service/debian/release/bookworm/latest/amd64"
}

variable "root_volume_size_gb" {
  description = "Size of the encrypted gp3 root volume."
  type        = number
  default     = 60

  validation {
    condition     = var.root_volume_size_gb >= 30
    error_message = "root_volume_size_gb must be at least 30 (drivers, CUDA and Python venvs)."
  }
}

variable "data_volume_size_gb" {
  description = "Size of the encrypted gp3 data volume mounted at the wiring's fleet_data_dir (models, vectors, Open WebUI data)."
  type        = number
  default     = 200

  validation {
    condition     = var.data_volume_size_gb >= 50 && var.data_volume_size_gb <= 16384
    error_message = "data_volume_size_gb must be between 50 and 16384."
  }
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for EBS volumes, logs and the SNS topic. Empty: one is created."
  type        = string
  default     = ""
}

variable "fleet_min_size" {
  description = "Minimum number of GPU hosts."
  type        = number
  default     = 1
}

variable "fleet_desired_capacity" {
  description = "Desired number of GPU hosts at creation (scaling policies move it afterwards)."
  type        = number
  default     = 2
}

variable "fleet_max_size" {
  description = "Maximum number of GPU hosts."
  type        = number
  default     = 4

  validation {
    condition     = var.fleet_max_size >= 1
    error_message = "fleet_max_size must be at least 1."
  }
}

variable "configure_timeout_seconds" {
  description = "How long a new host may wait in the launch lifecycle hook for Ansible to configure it (deploy workflow)."
  type        = number
  default     = 2700

  validation {
    condition     = var.configure_timeout_seconds >= 300 && var.configure_timeout_seconds <= 7200
    error_message = "configure_timeout_seconds must be between 300 and 7200."
  }
}

variable "requests_per_target" {
  description = "Target tracking: ALB requests per host per minute."
  type        = number
  default     = 300
}

variable "gpu_utilization_target" {
  description = "Target tracking: average GPU utilisation (percent) of the fleet."
  type        = number
  default     = 70

  validation {
    condition     = var.gpu_utilization_target > 0 && var.gpu_utilization_target < 100
    error_message = "gpu_utilization_target must be between 0 and 100 (exclusive)."
  }
}

variable "acm_certificate_arn" {
  description = "ACM certificate for the ALB's HTTPS listener."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/.+$", var.acm_certificate_arn))
    error_message = "acm_certificate_arn must be an ACM certificate ARN."
  }
}

variable "alb_ingress_cidrs" {
  description = "CIDRs allowed to reach the ALB on 443 (and 80, which only redirects to 443)."
  type        = list(string)
  default     = ["0.0.0.0/0"]

  validation {
    condition     = length(var.alb_ingress_cidrs) > 0 && alltrue([for c in var.alb_ingress_cidrs : can(cidrnetmask(c))])
    error_message = "alb_ingress_cidrs must be a non-empty list of IPv4 CIDRs."
  }
}

variable "alb_deletion_protection" {
  description = "Protect the ALB from deletion (turn off before a planned destroy)."
  type        = bool
  default     = true
}

variable "alb_access_logs_bucket" {
  description = "Existing S3 bucket for ALB access logs. Empty: access logs off."
  type        = string
  default     = ""
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the agent's metrics; must equal cloudwatch_agent_namespace in Ansible."
  type        = string
  default     = "LLMFleet"
}

variable "alarm_email" {
  description = "E-mail subscribed to the alarm topic. Empty: no subscription (subscribe your own endpoint)."
  type        = string
  default     = ""
}

variable "log_retention_days" {
  description = "Retention of the VPC flow logs and the hosts' log groups."
  type        = number
  default     = 365
}
