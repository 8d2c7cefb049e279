# The data plane of one BYOC deployment on Azure Kubernetes Service: the cluster (or a node pool in an
# existing one) and the chart. Use with the bundle's terraform.tfvars:
#   terraform -chdir=terraform/aks init
#   terraform -chdir=terraform/aks apply -var-file=../../terraform.tfvars

locals {
  service_account_name = "dp-runtime"
}

provider "azurerm" {
  features {}
}

provider "kubernetes" {
  host                   = module.aks.cluster_endpoint
  cluster_ca_certificate = module.aks.cluster_ca_certificate
  client_certificate     = module.aks.client_certificate
  client_key             = module.aks.client_key
}

provider "helm" {
  kubernetes {
    host                   = module.aks.cluster_endpoint
    cluster_ca_certificate = module.aks.cluster_ca_certificate
    client_certificate     = module.aks.client_certificate
    client_key             = module.aks.client_key
  }
}

module "aks" {
  source = "../modules/aks"

  location                    = var.location
  resource_group_name         = var.resource_group_name
  cluster_name                = var.cluster_name
  create_cluster              = var.create_cluster
  subnet_id                   = var.subnet_id
  node_count                  = var.node_count
  vm_size                     = var.vm_size
  namespace                   = var.namespace
  service_account_name        = local.service_account_name
  data_plane_role_assignments = var.data_plane_role_assignments
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
  service_account_annotations = module.aks.service_account_annotations
  pod_labels                  = module.aks.pod_labels
  storage_class_name          = module.aks.storage_class_name
}
