# The data plane of one BYOC deployment on Google Kubernetes Engine: the cluster (or a node pool in an
# existing one) and the chart. Use with the bundle's terraform.tfvars:
#   terraform -chdir=terraform/gke init
#   terraform -chdir=terraform/gke apply -var-file=../../terraform.tfvars

locals {
  service_account_name = "dp-runtime"
}

provider "google" {
  project = var.project_id
  region  = var.region
}

data "google_client_config" "current" {}

provider "kubernetes" {
  host                   = module.gke.cluster_endpoint
  cluster_ca_certificate = module.gke.cluster_ca_certificate
  token                  = data.google_client_config.current.access_token
}

provider "helm" {
  kubernetes {
    host                   = module.gke.cluster_endpoint
    cluster_ca_certificate = module.gke.cluster_ca_certificate
    token                  = data.google_client_config.current.access_token
  }
}

module "gke" {
  source = "../modules/gke"

  project_id           = var.project_id
  region               = var.region
  cluster_name         = var.cluster_name
  create_cluster       = var.create_cluster
  node_count           = var.node_count
  machine_type         = var.machine_type
  namespace            = var.namespace
  service_account_name = local.service_account_name
  data_plane_roles     = var.data_plane_roles
}

module "data_plane" {
  source = "../modules/data-plane"

  deployment_id               = var.deployment_id
  namespace                   = var.namespace
  release_name                = var.release_name
  credential_secret_name      = var.credential_secret_name
  values_file                 = var.values_file
  extra_values                = var.extra_values
  service_account_name        = local.service_account_name
  service_account_annotations = module.gke.service_account_annotations
  pod_labels                  = module.gke.pod_labels
  storage_class_name          = module.gke.storage_class_name
}
