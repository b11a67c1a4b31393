variable "name" {
  description = "Name prefix of every resource (<project>-<environment>)."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the fleet."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets the internal load balancer has a node in."
  type        = list(string)
}

variable "client_security_group_ids" {
  description = "Security groups of the hosts that query the vector store, the rag-nodes' own added (name -> id; names known at plan time)."
  type        = map(string)
}

variable "chroma_port" {
  description = "Chroma's port on the rag-nodes (the wiring's chroma_port)."
  type        = number
}

variable "deletion_protection" {
  description = "Refuse to delete the internal load balancer."
  type        = bool
}

variable "vpc_cidr" {
  description = "CIDR of the VPC (its resolver answers DNS)."
  type        = string
}
