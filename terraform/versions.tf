terraform {
  required_version = ">= 1.10.0, < 2.0.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }

  # Remote state in S3 with S3-native locking (Terraform >= 1.10). The settings live in a
  # per-environment file: `terraform init -backend-config=backend.hcl` (see backend.hcl.example).
  backend "s3" {}
}
