variable "name" {
  description = "Name prefix of the fleet's resources."
  type        = string
}

variable "project" {
  description = "Project tag."
  type        = string
}

variable "environment" {
  description = "Environment tag."
  type        = string
}

variable "state_prefix" {
  description = "<Project>/<Environment>: where the release the image bakes is published."
  type        = string
}

variable "parent_image" {
  description = "The base AMI (Debian 12) the image is baked on."
  type        = string
}

variable "image_parameter" {
  description = "SSM parameter that receives the baked AMI's id (the launch template resolves it)."
  type        = string
}

variable "build_instance_type" {
  description = "Instance type of the build instance (the driver builds without a GPU)."
  type        = string
}

variable "retain_count" {
  description = "gpu-node images kept for a rollback; older ones are deleted with their snapshots."
  type        = number
}

variable "root_volume_size_gb" {
  description = "Root volume of the image (the hosts' root volume)."
  type        = number
}

variable "kms_key_arn" {
  description = "The fleet's KMS key: the image's volumes, the component and the build log."
  type        = string
}

variable "subnet_id" {
  description = "Private subnet of the build instance."
  type        = string
}

variable "security_group_ids" {
  description = "Security groups of the build instance (egress to S3, SSM and the mirrors)."
  type        = list(string)
}

variable "release_bucket_name" {
  description = "The release bucket: the build reads releases/, writes image-builder/ logs."
  type        = string
}

variable "release_bucket_arn" {
  description = "ARN of the release bucket."
  type        = string
}

variable "release_parameter_arn" {
  description = "ARN of the SSM parameter naming the fleet's release."
  type        = string
}
