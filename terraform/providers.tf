provider "aws" {
  region = var.aws_region

  # Every taggable resource carries these; the hosts get Role and Name on top (modules/fleet).
  default_tags {
    tags = local.common_tags
  }
}
