output "cluster_name" {
  description = "The cluster the data plane runs in."
  value       = local.cluster.name
}

output "cluster_endpoint" {
  description = "HTTPS address of the cluster's API server."
  value       = local.kube_config.host
}

output "cluster_ca_certificate" {
  description = "The cluster's CA certificate, PEM."
  value       = base64decode(local.kube_config.cluster_ca_certificate)
  sensitive   = true
}

output "client_certificate" {
  description = "Client certificate for the cluster's admin, PEM."
  value       = base64decode(local.kube_config.client_certificate)
  sensitive   = true
}

output "client_key" {
  description = "Client key for the cluster's admin, PEM."
  value       = base64decode(local.kube_config.client_key)
  sensitive   = true
}

output "service_account_annotations" {
  description = "Annotations binding the data plane's Kubernetes service account to its managed identity."
  value       = { "azure.workload.identity/client-id" = azurerm_user_assigned_identity.data_plane.client_id }
}

output "pod_labels" {
  description = "Pod labels AKS workload identity needs."
  value       = { "azure.workload.identity/use" = "true" }
}

output "storage_class_name" {
  description = "The StorageClass for the embedded memory store."
  value       = kubernetes_storage_class_v1.memory.metadata[0].name
}
