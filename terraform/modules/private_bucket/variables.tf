variable "name_prefix" {
  description = "Prefix of the bucket's name (S3 appends a unique suffix)."
  type        = string
}

variable "kms_key_arn" {
  description = "The project's KMS key (SSE-KMS with a bucket key)."
  type        = string
}

variable "expiration_days" {
  description = "Days after which current objects expire; 0 keeps them."
  type        = number
  default     = 0
}

variable "noncurrent_days" {
  description = "Days a replaced or deleted object version is kept."
  type        = number
}

variable "force_destroy" {
  description = "Let terraform delete the bucket with objects in it (transfer buckets only)."
  type        = bool
  default     = false
}

variable "sse_s3" {
  description = "Encrypt with S3-managed keys instead of the project's KMS key (ALB access logs accept only these)."
  type        = bool
  default     = false
}

variable "policy_json" {
  description = "Further bucket policy statements (an IAM policy document's JSON), merged with the TLS-only rule."
  type        = string
  default     = ""
}
