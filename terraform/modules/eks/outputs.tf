output "cluster_name" {
  description = "The cluster the data plane runs in."
  value       = local.cluster.name
}

output "cluster_endpoint" {
  description = "HTTPS address of the cluster's API server."
  value       = local.cluster.endpoint
}

output "cluster_ca_certificate" {
  description = "The cluster's CA certificate, PEM."
  value       = base64decode(local.cluster.certificate_authority[0].data)
}

output "service_account_annotations" {
  description = "Annotations binding the data plane's Kubernetes service account to its IAM role (IRSA)."
  value       = { "eks.amazonaws.com/role-arn" = aws_iam_role.data_plane.arn }
}

output "pod_labels" {
  description = "Pod labels IRSA needs (none)."
  value       = {}
}

output "storage_class_name" {
  description = "The StorageClass for the embedded memory store."
  value       = kubernetes_storage_class_v1.memory.metadata[0].name
}
