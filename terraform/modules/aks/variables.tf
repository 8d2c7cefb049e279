variable "location" {
  description = "Azure region of the cluster."
  type        = string
}

variable "resource_group_name" {
  description = "Resource group of the cluster: created when create_cluster is true, else the existing cluster's."
  type        = string
}

variable "cluster_name" {
  description = "Name of the AKS cluster to create, or of the existing cluster to add a node pool to."
  type        = string
}

variable "create_cluster" {
  description = "true: create the resource group, virtual network and cluster; false: use the existing cluster named cluster_name."
  type        = bool
  default     = true
}

variable "vnet_cidr" {
  description = "Address space of the created virtual network (created clusters only)."
  type        = string
  default     = "10.40.0.0/16"
}

variable "subnet_id" {
  description = "Subnet for the node pool in an existing cluster (create_cluster = false); null for the cluster's default."
  type        = string
  default     = null
}

variable "node_count" {
  description = "Nodes in the data plane's node pool."
  type        = number
  default     = 2
}

variable "vm_size" {
  description = "VM size of the data plane's nodes."
  type        = string
  default     = "Standard_D4s_v5"
}

variable "namespace" {
  description = "Kubernetes namespace of the data plane, for the federated credential's subject."
  type        = string
}

variable "service_account_name" {
  description = "Kubernetes service account of the data plane, for the federated credential's subject."
  type        = string
}

variable "data_plane_role_assignments" {
  description = "Azure roles for the data plane's identity (what its agents' tools may use), by a name of your choice."
  type = map(object({
    scope = string
    role  = string
  }))
  default = {}
}

variable "storage_class_name" {
  description = "Name of the StorageClass made for the embedded memory store."
  type        = string
  default     = "agent-marketplace-dp"
}
