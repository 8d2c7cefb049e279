variable "deployment_id" {
  description = "The BYOC deployment this data plane serves (a UUID from the control plane)."
  type        = string
}

variable "namespace" {
  description = "Kubernetes namespace the data plane runs in."
  type        = string
  default     = "agent-marketplace"
}

variable "create_namespace" {
  description = "Create the namespace (with the restricted Pod Security level); false if it exists."
  type        = bool
  default     = true
}

variable "release_name" {
  description = "Helm release name; the chart names its objects <release>-data-plane unless the release already contains data-plane."
  type        = string
  default     = "data-plane"
}

variable "chart_path" {
  description = "Path of the data-plane chart; empty for the chart beside these modules (charts/data-plane)."
  type        = string
  default     = ""
}

variable "values_file" {
  description = "A values.yaml for the chart, such as the one in the control plane's bundle; empty for none."
  type        = string
  default     = ""
}

variable "credential_secret_name" {
  description = "Name of the Secret (key: token) holding the deployment's credential, created with kubectl."
  type        = string
  default     = "dp-runtime-credential"
}

variable "service_account_name" {
  description = "Kubernetes service account the data plane runs as; the cloud identity is bound to it."
  type        = string
  default     = "dp-runtime"
}

variable "service_account_annotations" {
  description = "Annotations that bind the service account to a cloud identity (workload identity, IRSA)."
  type        = map(string)
  default     = {}
}

variable "pod_labels" {
  description = "Extra labels for the data plane's pods (AKS workload identity needs one)."
  type        = map(string)
  default     = {}
}

variable "storage_class_name" {
  description = "StorageClass for the embedded memory store's volume; empty for the cluster default."
  type        = string
  default     = ""
}

variable "extra_values" {
  description = "Chart values applied last, over the values file and what these modules set."
  type        = any
  default     = {}
}
