variable "name" {
  description = "Name prefix of every resource (<project>-<environment>)."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the fleet."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets the internal load balancer has a node in."
  type        = list(string)
}

variable "client_security_group_ids" {
  description = "Security groups of the hosts that query the vector store, the rag-nodes' own added (name -> id; names known at plan time)."
  type        = map(string)
}

variable "chroma_port" {
  description = "Chroma's port on the rag-nodes (the wiring's chroma_port)."
  type        = number
}

variable "deletion_protection" {
  description = "Refuse to delete the internal load balancer."
  type        = bool
}

variable "vpc_cidr" {
  description = "CIDR of the VPC (its resolver answers DNS)."
  type        = string
}

variable "kms_key_arn" {
  description = "The fleet's KMS key (the data volumes and their snapshots are encrypted with it)."
  type        = string
}

variable "rag_host_tags" {
  description = "Tags that identify this fleet's rag-node instances (their data volumes are snapshotted)."
  type        = map(string)
}

variable "snapshot_interval_hours" {
  description = "Hours between snapshots of the rag-nodes' data volumes."
  type        = number

  validation {
    condition     = contains([1, 2, 3, 4, 6, 8, 12, 24], var.snapshot_interval_hours)
    error_message = "snapshot_interval_hours must be one of 1, 2, 3, 4, 6, 8, 12 or 24 (Data Lifecycle Manager's intervals)."
  }
}

variable "snapshot_retain" {
  description = "Snapshots kept per volume (the oldest is deleted after a new one)."
  type        = number

  validation {
    condition     = var.snapshot_retain >= 1 && var.snapshot_retain <= 1000
    error_message = "snapshot_retain must be between 1 and 1000."
  }
}

variable "snapshot_time" {
  description = "UTC time of day (hh:mm) the snapshot schedule starts from."
  type        = string

  validation {
    condition     = can(regex("^([01][0-9]|2[0-3]):[0-5][0-9]$", var.snapshot_time))
    error_message = "snapshot_time is hh:mm in UTC, e.g. 03:00."
  }
}
