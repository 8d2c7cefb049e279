output "release_name" {
  description = "The Helm release."
  value       = helm_release.data_plane.name
}

output "namespace" {
  description = "The namespace the data plane runs in."
  value       = var.namespace
}
