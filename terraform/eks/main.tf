# The data plane of one BYOC deployment on Amazon EKS: the cluster (or a node group in an existing one)
# and the chart. Use with the bundle's terraform.tfvars:
#   terraform -chdir=terraform/eks init
#   terraform -chdir=terraform/eks apply -var-file=../../terraform.tfvars

locals {
  service_account_name = "dp-runtime"
}

provider "aws" {
  region = var.region
}

data "aws_eks_cluster_auth" "this" {
  name = module.eks.cluster_name
}

provider "kubernetes" {
  host                   = module.eks.cluster_endpoint
  cluster_ca_certificate = module.eks.cluster_ca_certificate
  token                  = data.aws_eks_cluster_auth.this.token
}

provider "helm" {
  kubernetes {
    host                   = module.eks.cluster_endpoint
    cluster_ca_certificate = module.eks.cluster_ca_certificate
    token                  = data.aws_eks_cluster_auth.this.token
  }
}

module "eks" {
  source = "../modules/eks"

  region                 = var.region
  cluster_name           = var.cluster_name
  create_cluster         = var.create_cluster
  subnet_ids             = var.subnet_ids
  node_count             = var.node_count
  instance_type          = var.instance_type
  namespace              = var.namespace
  service_account_name   = local.service_account_name
  data_plane_policy_arns = var.data_plane_policy_arns
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
  service_account_annotations = module.eks.service_account_annotations
  pod_labels                  = module.eks.pod_labels
  storage_class_name          = module.eks.storage_class_name
}
