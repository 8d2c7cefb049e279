# Installs the data-plane Helm chart for one BYOC deployment. The deployment's credential is not an input:
# it is created as a Kubernetes Secret with kubectl (see the bundle's README), so it never enters the
# Terraform state. The pods start once that Secret exists, so the release does not wait for them.

locals {
  chart_path = var.chart_path != "" ? var.chart_path : "${path.module}/../../../charts/data-plane"

  # What Terraform knows best: the service account's cloud identity, the storage class it made.
  overrides = {
    deploymentId = var.deployment_id
    credential = {
      existingSecret = var.credential_secret_name
      key            = "token"
    }
    serviceAccount = {
      create      = true
      name        = var.service_account_name
      annotations = var.service_account_annotations
    }
    podLabels = var.pod_labels
    memory = {
      embedded = {
        storageClassName = var.storage_class_name
      }
    }
  }
}

resource "kubernetes_namespace_v1" "data_plane" {
  count = var.create_namespace ? 1 : 0

  metadata {
    name = var.namespace
    labels = {
      "app.kubernetes.io/part-of"          = "agent-marketplace"
      "pod-security.kubernetes.io/enforce" = "restricted"
    }
  }
}

resource "helm_release" "data_plane" {
  name      = var.release_name
  namespace = var.namespace
  chart     = local.chart_path

  values = compact([
    var.values_file != "" ? file(var.values_file) : "",
    yamlencode(local.overrides),
    yamlencode(var.extra_values),
  ])

  wait            = false
  atomic          = false
  cleanup_on_fail = true

  depends_on = [kubernetes_namespace_v1.data_plane]
}
