variable "region" {
  description = "AWS region of the cluster (the provider's region)."
  type        = string
}

variable "cluster_name" {
  description = "Name of the EKS cluster to create, or of the existing cluster to add a node group to."
  type        = string
}

variable "create_cluster" {
  description = "true: create the cluster with its VPC and NAT gateway; false: use the existing cluster named cluster_name."
  type        = bool
  default     = true
}

variable "kubernetes_version" {
  description = "Kubernetes version of a created cluster."
  type        = string
  default     = "1.33"
}

variable "vpc_cidr" {
  description = "Address range of the created VPC (created clusters only)."
  type        = string
  default     = "10.30.0.0/16"
}

variable "subnet_ids" {
  description = "Private subnets for the node group in an existing cluster (create_cluster = false)."
  type        = list(string)
  default     = []
}

variable "create_oidc_provider" {
  description = "Register the cluster's OIDC issuer with IAM; false if the existing cluster already has it."
  type        = bool
  default     = true
}

variable "node_count" {
  description = "Nodes in the data plane's node group (it may grow to twice this)."
  type        = number
  default     = 2
}

variable "instance_type" {
  description = "EC2 instance type of the data plane's nodes."
  type        = string
  default     = "m6i.large"
}

variable "namespace" {
  description = "Kubernetes namespace of the data plane, for the IAM role's trust policy."
  type        = string
}

variable "service_account_name" {
  description = "Kubernetes service account of the data plane, for the IAM role's trust policy."
  type        = string
}

variable "data_plane_policy_arns" {
  description = "IAM policies attached to the data plane's role (what its agents' tools may use)."
  type        = list(string)
  default     = []
}

variable "storage_class_name" {
  description = "Name of the StorageClass made for the embedded memory store."
  type        = string
  default     = "agent-marketplace-dp"
}
