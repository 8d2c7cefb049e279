variable "deployment_id" {
  description = "The BYOC deployment this data plane serves (a UUID from the control plane)."
  type        = string
}

variable "namespace" {
  description = "Kubernetes namespace for the data plane."
  type        = string
  default     = "agent-marketplace"
}

variable "release_name" {
  description = "Helm release name of the data plane."
  type        = string
  default     = "data-plane"
}

variable "credential_secret_name" {
  description = "Secret (key: token) holding the deployment's credential; created with kubectl after apply, never by Terraform."
  type        = string
  default     = "dp-runtime-credential"
}

variable "values_file" {
  description = "The chart's values for this deployment (the bundle's values.yaml), relative to this folder; empty for the chart's defaults."
  type        = string
  default     = ""
}

variable "extra_values" {
  description = "Chart values applied over values_file, e.g. { slots = 8 }."
  type        = any
  default     = {}
}

variable "cluster_name" {
  description = "The cluster to create, or the existing cluster to add the data plane's node pool to."
  type        = string
  default     = "agent-marketplace-dp"
}

variable "create_cluster" {
  description = "true: create the cluster and its network; false: add a node pool to the existing cluster named cluster_name."
  type        = bool
  default     = true
}

variable "node_count" {
  description = "Nodes in the data plane's node pool."
  type        = number
  default     = 2
}

variable "location" {
  description = "Azure region."
  type        = string
  default     = "eastus"
}

variable "resource_group_name" {
  description = "Resource group: created with the cluster, or the existing cluster's."
  type        = string
  default     = "agent-marketplace-dp"
}

variable "vm_size" {
  description = "VM size of the data plane's nodes."
  type        = string
  default     = "Standard_D4s_v5"
}

variable "subnet_id" {
  description = "Subnet for the node pool when adding to an existing cluster (create_cluster = false); null for the cluster's default."
  type        = string
  default     = null
}

variable "data_plane_role_assignments" {
  description = "Azure roles for the data plane's identity (what its agents' tools may use): name => { scope, role }."
  type = map(object({
    scope = string
    role  = string
  }))
  default = {}
}
