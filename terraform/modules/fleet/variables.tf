variable "name" {
  description = "Name prefix of every resource."
  type        = string
}

variable "project" {
  description = "Project tag (inventory filter)."
  type        = string
}

variable "environment" {
  description = "Environment tag (inventory group env_<environment>)."
  type        = string
}

variable "role" {
  description = "Role tag (inventory group role_<role>): gpu-node or rag-node."
  type        = string

  validation {
    condition     = contains(["gpu-node", "rag-node"], var.role)
    error_message = "role must be gpu-node or rag-node (the groups site.yml targets)."
  }
}

variable "instance_type" {
  description = "The hosts' instance type (the launch template's; the first choice)."
  type        = string
}

variable "extra_instance_types" {
  description = "Further instance types the group may launch when the first is short (a mixed instances policy); empty: the one type."
  type        = list(string)
  default     = []
}

variable "on_demand_base_capacity" {
  description = "Hosts always launched On-Demand, whatever Spot offers."
  type        = number
  default     = 0
}

variable "on_demand_percentage_above_base" {
  description = "Percent of the hosts above the base launched On-Demand (100: no Spot; lower: the rest on Spot)."
  type        = number
  default     = 100

  validation {
    condition     = var.on_demand_percentage_above_base >= 0 && var.on_demand_percentage_above_base <= 100
    error_message = "on_demand_percentage_above_base must be 0 to 100."
  }
}

variable "scheduled_scaling" {
  description = "Scheduled changes of the group's bounds (off-hours), by name: cron recurrence (UTC unless time_zone), min, max and desired hosts."
  type = map(object({
    recurrence = string
    min_size   = number
    max_size   = number
    desired    = number
  }))
  default = {}
}

variable "time_zone" {
  description = "IANA time zone of the scheduled scaling recurrences."
  type        = string
  default     = "Etc/UTC"
}

variable "ami_id" {
  description = "AMI id; empty to read ami_ssm_parameter."
  type        = string
}

variable "ami_ssm_parameter" {
  description = "Public SSM parameter holding the AMI id."
  type        = string
}

variable "image_parameter" {
  description = "SSM parameter of the baked image (launches resolve it); empty for ami_id / ami_ssm_parameter."
  type        = string
  default     = ""
}

variable "subnet_ids" {
  description = "Private subnets the hosts launch into (one per zone)."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the hosts."
  type        = list(string)
}

variable "instance_profile_name" {
  description = "Instance profile of the hosts."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key encrypting both volumes."
  type        = string
}

variable "root_volume_size_gb" {
  description = "Root volume size."
  type        = number
}

variable "data_volume_size_gb" {
  description = "Data volume size (mounted at data_dir)."
  type        = number
}

variable "data_dir" {
  description = "Where the data volume is mounted (the wiring layer's fleet_data_dir)."
  type        = string
}

variable "min_size" {
  description = "Minimum hosts."
  type        = number
}

variable "desired_capacity" {
  description = "Desired hosts at creation."
  type        = number
}

variable "max_size" {
  description = "Maximum hosts."
  type        = number
}

variable "target_group_arns" {
  description = "Target groups the hosts register with."
  type        = list(string)
}

variable "in_flight_metric" {
  description = "The agent's gauge of generations in flight (the wiring's fleet_in_flight_metric); the policy follows <name>_percent."
  type        = string
}

variable "in_flight_target_percent" {
  description = "Target average of generations in flight as a percentage of the hosts' parallel slots."
  type        = number
}

variable "gpu_utilization_target" {
  description = "Target average GPU utilisation (percent)."
  type        = number
}

variable "metrics_namespace" {
  description = "Namespace of the CloudWatch agent's metrics."
  type        = string
}

variable "configure_timeout_seconds" {
  description = "Heartbeat timeout of the launch lifecycle hook."
  type        = number
}

variable "gpu_scaling" {
  description = "Scale on ALB requests per target and GPU utilisation (the GPU tier); false: a fixed size (the rag tier)."
  type        = bool
  default     = true
}

variable "data_volume_delete_on_termination" {
  description = "Delete the data volume with its instance (GPU hosts: it holds only what can be rebuilt); false keeps it (the rag tier's vectors)."
  type        = bool
  default     = true
}

variable "log_dir" {
  description = "The hosts' log folder (the wiring's fleet_log_dir), where the self-configuration logs."
  type        = string
}
