variable "name_prefix" {
  description = "Prefix of the role's name (AWS adds a unique suffix)."
  type        = string
}

variable "description" {
  description = "What the role is for."
  type        = string
}

variable "service" {
  description = "The service principal that assumes the role (e.g. dlm.amazonaws.com); null with trust_policy."
  type        = string
  default     = null
}

variable "trust_policy" {
  description = "The role's trust policy (JSON) when no AWS service assumes it; null with service."
  type        = string
  default     = null
}

variable "managed_policies" {
  description = "AWS-managed policies to attach, by their path under arn:aws:iam::aws:policy/ (e.g. service-role/AmazonRDSEnhancedMonitoringRole)."
  type        = set(string)
  default     = []
}

variable "inline_policies" {
  description = "Inline policies: name -> policy JSON (names known at plan time)."
  type        = map(string)
  default     = {}
}
