variable "name" {
  description = "Name prefix of every resource."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key of the SSM transfer bucket."
  type        = string
}
