output "dns_name" {
  description = "The vector store's stable address (published as the chroma_host parameter)."
  value       = aws_lb.vector_store.dns_name
}

output "target_group_arn" {
  description = "The rag-nodes' target group (their auto scaling group registers them)."
  value       = aws_lb_target_group.chroma.arn
}

output "rag_hosts_security_group_id" {
  description = "The rag-nodes' security group."
  value       = aws_security_group.rag_hosts.id
}

output "snapshot_policy_id" {
  description = "The Data Lifecycle Manager policy that snapshots the rag-nodes' data volumes."
  value       = aws_dlm_lifecycle_policy.rag_data.id
}
