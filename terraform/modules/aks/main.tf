# The data plane's home on Azure Kubernetes Service: a resource group, virtual network and cluster with the
# OIDC issuer, workload identity and Azure network policy (or an existing cluster), a node pool for
# dp-runtime, a user-assigned identity federated with the data plane's Kubernetes service account, and a
# StorageClass for the embedded memory store.

locals {
  resource_group_name = var.create_cluster ? azurerm_resource_group.this[0].name : var.resource_group_name
  cluster             = var.create_cluster ? azurerm_kubernetes_cluster.this[0] : data.azurerm_kubernetes_cluster.existing[0]
  kube_config         = local.cluster.kube_config[0]
}

resource "azurerm_resource_group" "this" {
  count = var.create_cluster ? 1 : 0

  name     = var.resource_group_name
  location = var.location
}

resource "azurerm_virtual_network" "this" {
  count = var.create_cluster ? 1 : 0

  name                = "${var.cluster_name}-vnet"
  location            = var.location
  resource_group_name = local.resource_group_name
  address_space       = [var.vnet_cidr]
}

resource "azurerm_subnet" "nodes" {
  count = var.create_cluster ? 1 : 0

  name                 = "nodes"
  resource_group_name  = local.resource_group_name
  virtual_network_name = azurerm_virtual_network.this[0].name
  address_prefixes     = [cidrsubnet(var.vnet_cidr, 4, 0)]
}

resource "azurerm_kubernetes_cluster" "this" {
  count = var.create_cluster ? 1 : 0

  name                = var.cluster_name
  location            = var.location
  resource_group_name = local.resource_group_name
  dns_prefix          = var.cluster_name

  oidc_issuer_enabled       = true
  workload_identity_enabled = true

  default_node_pool {
    name           = "system"
    vm_size        = "Standard_D2s_v5"
    node_count     = 1
    vnet_subnet_id = azurerm_subnet.nodes[0].id
  }

  identity {
    type = "SystemAssigned"
  }

  # Azure network policy enforces NetworkPolicy, which the chart relies on.
  network_profile {
    network_plugin    = "azure"
    network_policy    = "azure"
    load_balancer_sku = "standard"
    outbound_type     = "loadBalancer"
  }
}

data "azurerm_kubernetes_cluster" "existing" {
  count = var.create_cluster ? 0 : 1

  name                = var.cluster_name
  resource_group_name = var.resource_group_name
}

resource "azurerm_kubernetes_cluster_node_pool" "data_plane" {
  name                  = "dataplane"
  kubernetes_cluster_id = local.cluster.id
  vm_size               = var.vm_size
  node_count            = var.node_count
  vnet_subnet_id        = var.create_cluster ? azurerm_subnet.nodes[0].id : var.subnet_id
  node_labels = {
    "agent-marketplace.dev/pool" = "data-plane"
  }
}

# The identity dp-runtime acts as in Azure, federated with its Kubernetes service account.
resource "azurerm_user_assigned_identity" "data_plane" {
  name                = "${var.cluster_name}-dp-runtime"
  location            = var.location
  resource_group_name = local.resource_group_name
}

resource "azurerm_federated_identity_credential" "data_plane" {
  name                = "dp-runtime"
  resource_group_name = local.resource_group_name
  parent_id           = azurerm_user_assigned_identity.data_plane.id
  audience            = ["api://AzureADTokenExchange"]
  issuer              = local.cluster.oidc_issuer_url
  subject             = "system:serviceaccount:${var.namespace}:${var.service_account_name}"
}

resource "azurerm_role_assignment" "data_plane" {
  for_each = var.data_plane_role_assignments

  scope                = each.value.scope
  role_definition_name = each.value.role
  principal_id         = azurerm_user_assigned_identity.data_plane.principal_id
}

resource "kubernetes_storage_class_v1" "memory" {
  metadata {
    name = var.storage_class_name
  }

  storage_provisioner    = "disk.csi.azure.com"
  reclaim_policy         = "Retain"
  volume_binding_mode    = "WaitForFirstConsumer"
  allow_volume_expansion = true
  parameters = {
    skuName = "Premium_LRS"
  }

  depends_on = [azurerm_kubernetes_cluster_node_pool.data_plane]
}
