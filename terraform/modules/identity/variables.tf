variable "name" {
  description = "Name prefix of every resource (<project>-<environment>)."
  type        = string
}

variable "domain_prefix" {
  description = "The hosted sign-in page's prefix: https://<prefix>.auth.<region>.amazoncognito.com (unique in the region)."
  type        = string
}

variable "callback_url" {
  description = "Open WebUI's redirect URI: https://<dns_name>/oauth/oidc/callback."
  type        = string
}

variable "logout_url" {
  description = "Where the provider sends a person after signing out: the fleet's URL."
  type        = string
}

variable "groups" {
  description = "The groups to create (the fleet's user and admin groups)."
  type        = list(string)
}
