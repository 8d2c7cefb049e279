output "cluster_name" {
  description = "The cluster the data plane runs in."
  value       = module.aks.cluster_name
}

output "namespace" {
  description = "The data plane's namespace; create the credential Secret here."
  value       = module.data_plane.namespace
}

output "credential_secret_command" {
  description = "The command that creates the credential Secret the data plane waits for."
  value       = "kubectl create secret generic ${var.credential_secret_name} -n ${var.namespace} --from-literal=token=\"$DP_CREDENTIAL\""
}
