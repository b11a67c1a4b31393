variable "name" {
  description = "Name prefix of every resource."
  type        = string
}

variable "instance_tags" {
  description = "Tags the fleet's instances carry (Project, Environment): sessions only to those."
  type        = map(string)
}

variable "github_repository" {
  description = "owner/name of the repository whose workflows assume the role."
  type        = string
}

variable "github_branch" {
  description = "The branch whose scheduled drift runs assume the role."
  type        = string
}

variable "github_environment" {
  description = "The protected GitHub environment whose jobs (rollouts) assume the role."
  type        = string
}

variable "github_oidc_provider_arn" {
  description = "The account's IAM OIDC provider for token.actions.githubusercontent.com."
  type        = string
}

variable "kms_key_arn" {
  description = "The fleet's KMS key (secrets, parameters, buckets)."
  type        = string
}

variable "state_secret_arns" {
  description = "The shared state's secrets the wiring reads."
  type        = list(string)
}

variable "state_parameter_path_arn" {
  description = "ARN of the shared state's SSM parameter path."
  type        = string
}

variable "release_parameter_arn" {
  description = "ARN of the SSM parameter that records the release."
  type        = string
}

variable "release_bucket_arn" {
  description = "ARN of the releases' bucket."
  type        = string
}

variable "ssm_bucket_arn" {
  description = "ARN of the aws_ssm connection's bucket."
  type        = string
}

variable "target_group_arn" {
  description = "ARN of the GPU hosts' target group (the rolling update's drain)."
  type        = string
}
