variable "name" {
  description = "Name prefix of every resource."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key of the SSM transfer bucket."
  type        = string
}

variable "state_secret_arns" {
  description = "The fleet's secrets and RDS's master secret: the hosts may read exactly these."
  type        = list(string)
}

variable "state_parameter_path_arn" {
  description = "ARN of the SSM path /<project>/<environment>/state (the parameters under it are readable)."
  type        = string
}

variable "uploads_bucket_arn" {
  description = "The uploads bucket Open WebUI reads and writes."
  type        = string
}

variable "release_parameter_arn" {
  description = "ARN of the SSM parameter /<project>/<environment>/release that names the release the fleet runs."
  type        = string
}
