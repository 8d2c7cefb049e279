output "cluster_name" {
  description = "The cluster the data plane runs in."
  value       = local.cluster_name
}

output "cluster_endpoint" {
  description = "HTTPS address of the cluster's API server."
  value       = "https://${local.cluster_endpoint}"
}

output "cluster_ca_certificate" {
  description = "The cluster's CA certificate, PEM."
  value       = base64decode(local.cluster_ca)
}

output "service_account_annotations" {
  description = "Annotations binding the data plane's Kubernetes service account to its Google service account."
  value       = { "iam.gke.io/gcp-service-account" = google_service_account.data_plane.email }
}

output "pod_labels" {
  description = "Pod labels workload identity needs (none on GKE)."
  value       = {}
}

output "storage_class_name" {
  description = "The StorageClass for the embedded memory store."
  value       = kubernetes_storage_class_v1.memory.metadata[0].name
}
