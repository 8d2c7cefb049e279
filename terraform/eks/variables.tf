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

variable "region" {
  description = "AWS region."
  type        = string
  default     = "us-east-1"
}

variable "instance_type" {
  description = "EC2 instance type of the data plane's nodes."
  type        = string
  default     = "m6i.large"
}

variable "subnet_ids" {
  description = "Private subnets for the node group when adding to an existing cluster (create_cluster = false)."
  type        = list(string)
  default     = []
}

variable "data_plane_policy_arns" {
  description = "IAM policies for the data plane's role (what its agents' tools may use)."
  type        = list(string)
  default     = []
}
