variable "project_id" {
  description = "Google Cloud project that holds the cluster and the data plane's service accounts."
  type        = string
}

variable "region" {
  description = "Google Cloud region of the (regional) cluster."
  type        = string
}

variable "cluster_name" {
  description = "Name of the cluster to create, or of the existing cluster to add a node pool to."
  type        = string
}

variable "create_cluster" {
  description = "true: create the cluster with its network and NAT; false: use the existing cluster named cluster_name."
  type        = bool
  default     = true
}

variable "deletion_protection" {
  description = "Refuse to destroy a created cluster."
  type        = bool
  default     = true
}

variable "subnet_cidr" {
  description = "Primary range of the nodes' subnetwork (created clusters only)."
  type        = string
  default     = "10.20.0.0/20"
}

variable "pods_cidr" {
  description = "Secondary range for pods (created clusters only)."
  type        = string
  default     = "10.24.0.0/14"
}

variable "services_cidr" {
  description = "Secondary range for services (created clusters only)."
  type        = string
  default     = "10.28.0.0/20"
}

variable "master_cidr" {
  description = "A /28 for the private control plane's endpoint (created clusters only)."
  type        = string
  default     = "172.16.0.32/28"
}

variable "node_count" {
  description = "Nodes per zone in the data plane's node pool."
  type        = number
  default     = 1
}

variable "machine_type" {
  description = "Machine type of the data plane's nodes."
  type        = string
  default     = "e2-standard-4"
}

variable "namespace" {
  description = "Kubernetes namespace of the data plane, for the workload identity binding."
  type        = string
}

variable "service_account_name" {
  description = "Kubernetes service account of the data plane, for the workload identity binding."
  type        = string
}

variable "data_plane_roles" {
  description = "Project roles granted to the data plane's Google service account (what its agents' tools may use)."
  type        = list(string)
  default     = []
}

variable "storage_class_name" {
  description = "Name of the StorageClass made for the embedded memory store."
  type        = string
  default     = "agent-marketplace-dp"
}
