# The data plane's home on Amazon EKS: a VPC with private subnets behind a NAT gateway (or an existing
# cluster), a managed node group for dp-runtime, an IAM role the data plane's Kubernetes service account
# assumes (IRSA), the EBS CSI driver and a gp3 StorageClass for the embedded memory store.

data "aws_availability_zones" "available" {
  state = "available"
}

data "aws_partition" "current" {}

locals {
  azs        = slice(data.aws_availability_zones.available.names, 0, 2)
  cluster    = var.create_cluster ? aws_eks_cluster.this[0] : data.aws_eks_cluster.existing[0]
  subnet_ids = var.create_cluster ? aws_subnet.private[*].id : var.subnet_ids
  oidc_url   = local.cluster.identity[0].oidc[0].issuer
  oidc_host  = replace(local.oidc_url, "https://", "")
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy"
}

resource "aws_vpc" "this" {
  count = var.create_cluster ? 1 : 0

  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true
  tags                 = { Name = "${var.cluster_name}-vpc" }
}

resource "aws_subnet" "public" {
  count = var.create_cluster ? 2 : 0

  vpc_id                  = aws_vpc.this[0].id
  availability_zone       = local.azs[count.index]
  cidr_block              = cidrsubnet(var.vpc_cidr, 4, count.index)
  map_public_ip_on_launch = false
  tags = {
    Name                     = "${var.cluster_name}-public-${count.index}"
    "kubernetes.io/role/elb" = "1"
  }
}

resource "aws_subnet" "private" {
  count = var.create_cluster ? 2 : 0

  vpc_id            = aws_vpc.this[0].id
  availability_zone = local.azs[count.index]
  cidr_block        = cidrsubnet(var.vpc_cidr, 4, count.index + 8)
  tags = {
    Name                              = "${var.cluster_name}-private-${count.index}"
    "kubernetes.io/role/internal-elb" = "1"
  }
}

resource "aws_internet_gateway" "this" {
  count = var.create_cluster ? 1 : 0

  vpc_id = aws_vpc.this[0].id
}

resource "aws_eip" "nat" {
  count = var.create_cluster ? 1 : 0

  domain = "vpc"
}

# Nodes have no public addresses; the data plane's outbound calls leave through NAT.
resource "aws_nat_gateway" "this" {
  count = var.create_cluster ? 1 : 0

  allocation_id = aws_eip.nat[0].id
  subnet_id     = aws_subnet.public[0].id
  depends_on    = [aws_internet_gateway.this]
}

resource "aws_route_table" "public" {
  count = var.create_cluster ? 1 : 0

  vpc_id = aws_vpc.this[0].id

  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.this[0].id
  }
}

resource "aws_route_table" "private" {
  count = var.create_cluster ? 1 : 0

  vpc_id = aws_vpc.this[0].id

  route {
    cidr_block     = "0.0.0.0/0"
    nat_gateway_id = aws_nat_gateway.this[0].id
  }
}

resource "aws_route_table_association" "public" {
  count = var.create_cluster ? 2 : 0

  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public[0].id
}

resource "aws_route_table_association" "private" {
  count = var.create_cluster ? 2 : 0

  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private[0].id
}

data "aws_iam_policy_document" "assume_eks" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["eks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "cluster" {
  count = var.create_cluster ? 1 : 0

  name               = "${var.cluster_name}-cluster"
  assume_role_policy = data.aws_iam_policy_document.assume_eks.json
}

resource "aws_iam_role_policy_attachment" "cluster" {
  count = var.create_cluster ? 1 : 0

  role       = aws_iam_role.cluster[0].name
  policy_arn = "${local.policy_arn}/AmazonEKSClusterPolicy"
}

resource "aws_eks_cluster" "this" {
  count = var.create_cluster ? 1 : 0

  name     = var.cluster_name
  version  = var.kubernetes_version
  role_arn = aws_iam_role.cluster[0].arn

  vpc_config {
    subnet_ids              = aws_subnet.private[*].id
    endpoint_private_access = true
    endpoint_public_access  = true
  }

  access_config {
    authentication_mode                         = "API_AND_CONFIG_MAP"
    bootstrap_cluster_creator_admin_permissions = true
  }

  depends_on = [aws_iam_role_policy_attachment.cluster]
}

data "aws_eks_cluster" "existing" {
  count = var.create_cluster ? 0 : 1

  name = var.cluster_name
}

data "aws_iam_policy_document" "assume_ec2" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "nodes" {
  name               = "${var.cluster_name}-dp-nodes"
  assume_role_policy = data.aws_iam_policy_document.assume_ec2.json
}

resource "aws_iam_role_policy_attachment" "nodes" {
  for_each = toset([
    "AmazonEKSWorkerNodePolicy",
    "AmazonEKS_CNI_Policy",
    "AmazonEC2ContainerRegistryReadOnly",
  ])

  role       = aws_iam_role.nodes.name
  policy_arn = "${local.policy_arn}/${each.value}"
}

resource "aws_eks_node_group" "data_plane" {
  cluster_name    = local.cluster.name
  node_group_name = "agent-marketplace-dp"
  node_role_arn   = aws_iam_role.nodes.arn
  subnet_ids      = local.subnet_ids
  instance_types  = [var.instance_type]

  scaling_config {
    desired_size = var.node_count
    min_size     = var.node_count
    max_size     = var.node_count * 2
  }

  labels = {
    "agent-marketplace.dev/pool" = "data-plane"
  }

  depends_on = [aws_iam_role_policy_attachment.nodes]
}

# IAM roles for service accounts: the cluster's OIDC issuer, trusted by IAM.
data "tls_certificate" "oidc" {
  url = local.oidc_url
}

resource "aws_iam_openid_connect_provider" "this" {
  count = var.create_oidc_provider ? 1 : 0

  url             = local.oidc_url
  client_id_list  = ["sts.amazonaws.com"]
  thumbprint_list = [data.tls_certificate.oidc.certificates[0].sha1_fingerprint]
}

data "aws_iam_openid_connect_provider" "existing" {
  count = var.create_oidc_provider ? 0 : 1

  url = local.oidc_url
}

locals {
  oidc_provider_arn = var.create_oidc_provider ? aws_iam_openid_connect_provider.this[0].arn : data.aws_iam_openid_connect_provider.existing[0].arn
}

data "aws_iam_policy_document" "assume_service_account" {
  for_each = {
    data_plane = "system:serviceaccount:${var.namespace}:${var.service_account_name}"
    ebs_csi    = "system:serviceaccount:kube-system:ebs-csi-controller-sa"
  }

  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [local.oidc_provider_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.oidc_host}:sub"
      values   = [each.value]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.oidc_host}:aud"
      values   = ["sts.amazonaws.com"]
    }
  }
}

# The identity dp-runtime acts as in AWS.
resource "aws_iam_role" "data_plane" {
  name               = "${var.cluster_name}-dp-runtime"
  assume_role_policy = data.aws_iam_policy_document.assume_service_account["data_plane"].json
}

resource "aws_iam_role_policy_attachment" "data_plane" {
  for_each = toset(var.data_plane_policy_arns)

  role       = aws_iam_role.data_plane.name
  policy_arn = each.value
}

resource "aws_iam_role" "ebs_csi" {
  name               = "${var.cluster_name}-ebs-csi"
  assume_role_policy = data.aws_iam_policy_document.assume_service_account["ebs_csi"].json
}

resource "aws_iam_role_policy_attachment" "ebs_csi" {
  role       = aws_iam_role.ebs_csi.name
  policy_arn = "${local.policy_arn}/service-role/AmazonEBSCSIDriverPolicy"
}

resource "aws_eks_addon" "ebs_csi" {
  cluster_name             = local.cluster.name
  addon_name               = "aws-ebs-csi-driver"
  service_account_role_arn = aws_iam_role.ebs_csi.arn

  depends_on = [aws_eks_node_group.data_plane]
}

resource "kubernetes_storage_class_v1" "memory" {
  metadata {
    name = var.storage_class_name
  }

  storage_provisioner    = "ebs.csi.aws.com"
  reclaim_policy         = "Retain"
  volume_binding_mode    = "WaitForFirstConsumer"
  allow_volume_expansion = true
  parameters = {
    type      = "gp3"
    encrypted = "true"
  }

  depends_on = [aws_eks_addon.ebs_csi]
}
