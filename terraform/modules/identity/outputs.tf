output "issuer" {
  description = "The user pool's OpenID Connect issuer."
  value       = "https://cognito-idp.${data.aws_region.current.name}.amazonaws.com/${aws_cognito_user_pool.this.id}"
}

output "client_id" {
  description = "The fleet's app client."
  value       = aws_cognito_user_pool_client.fleet.id
}

output "client_secret" {
  description = "The app client's secret (kept as the fleet's oidc-client-secret)."
  value       = aws_cognito_user_pool_client.fleet.client_secret
  sensitive   = true
}

output "user_pool_id" {
  description = "The user pool (its people and groups are managed in Cognito)."
  value       = aws_cognito_user_pool.this.id
}
