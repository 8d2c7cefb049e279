# The data plane's home on Google Kubernetes Engine: a VPC-native cluster (or an existing one) with workload
# identity, a node pool for dp-runtime, egress through Cloud NAT, a Google service account bound to the
# data plane's Kubernetes service account, and a StorageClass for the embedded memory store.

locals {
  cluster_name     = var.create_cluster ? google_container_cluster.this[0].name : data.google_container_cluster.existing[0].name
  cluster_location = var.create_cluster ? google_container_cluster.this[0].location : data.google_container_cluster.existing[0].location
  cluster_endpoint = var.create_cluster ? google_container_cluster.this[0].endpoint : data.google_container_cluster.existing[0].endpoint
  cluster_ca       = var.create_cluster ? google_container_cluster.this[0].master_auth[0].cluster_ca_certificate : data.google_container_cluster.existing[0].master_auth[0].cluster_ca_certificate
}

resource "google_compute_network" "this" {
  count = var.create_cluster ? 1 : 0

  project                 = var.project_id
  name                    = "${var.cluster_name}-net"
  auto_create_subnetworks = false
}

resource "google_compute_subnetwork" "this" {
  count = var.create_cluster ? 1 : 0

  project                  = var.project_id
  name                     = "${var.cluster_name}-nodes"
  region                   = var.region
  network                  = google_compute_network.this[0].id
  ip_cidr_range            = var.subnet_cidr
  private_ip_google_access = true

  secondary_ip_range {
    range_name    = "pods"
    ip_cidr_range = var.pods_cidr
  }

  secondary_ip_range {
    range_name    = "services"
    ip_cidr_range = var.services_cidr
  }
}

# Nodes have no public addresses; the data plane's outbound calls leave through NAT.
resource "google_compute_router" "this" {
  count = var.create_cluster ? 1 : 0

  project = var.project_id
  name    = "${var.cluster_name}-router"
  region  = var.region
  network = google_compute_network.this[0].id
}

resource "google_compute_router_nat" "this" {
  count = var.create_cluster ? 1 : 0

  project                            = var.project_id
  name                               = "${var.cluster_name}-nat"
  router                             = google_compute_router.this[0].name
  region                             = var.region
  nat_ip_allocate_option             = "AUTO_ONLY"
  source_subnetwork_ip_ranges_to_nat = "ALL_SUBNETWORKS_ALL_IP_RANGES"
}

resource "google_container_cluster" "this" {
  count = var.create_cluster ? 1 : 0

  project  = var.project_id
  name     = var.cluster_name
  location = var.region

  network    = google_compute_network.this[0].id
  subnetwork = google_compute_subnetwork.this[0].id

  # The node pool below replaces the default one.
  remove_default_node_pool = true
  initial_node_count       = 1
  deletion_protection      = var.deletion_protection

  ip_allocation_policy {
    cluster_secondary_range_name  = "pods"
    services_secondary_range_name = "services"
  }

  private_cluster_config {
    enable_private_nodes    = true
    enable_private_endpoint = false
    master_ipv4_cidr_block  = var.master_cidr
  }

  workload_identity_config {
    workload_pool = "${var.project_id}.svc.id.goog"
  }

  # Dataplane V2 enforces NetworkPolicy, which the chart relies on.
  datapath_provider = "ADVANCED_DATAPATH"

  release_channel {
    channel = "REGULAR"
  }
}

data "google_container_cluster" "existing" {
  count = var.create_cluster ? 0 : 1

  project  = var.project_id
  name     = var.cluster_name
  location = var.region
}

resource "google_service_account" "nodes" {
  project      = var.project_id
  account_id   = substr("${var.cluster_name}-nodes", 0, 30)
  display_name = "Agent Marketplace data plane nodes"
}

resource "google_project_iam_member" "nodes" {
  for_each = toset([
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
    "roles/monitoring.viewer",
    "roles/artifactregistry.reader",
  ])

  project = var.project_id
  role    = each.value
  member  = "serviceAccount:${google_service_account.nodes.email}"
}

resource "google_container_node_pool" "data_plane" {
  project  = var.project_id
  name     = "agent-marketplace-dp"
  cluster  = local.cluster_name
  location = local.cluster_location

  node_count = var.node_count

  node_config {
    machine_type    = var.machine_type
    disk_size_gb    = 50
    service_account = google_service_account.nodes.email
    oauth_scopes    = ["https://www.googleapis.com/auth/cloud-platform"]
    labels = {
      "agent-marketplace.dev/pool" = "data-plane"
    }

    workload_metadata_config {
      mode = "GKE_METADATA"
    }

    shielded_instance_config {
      enable_secure_boot = true
    }
  }

  management {
    auto_repair  = true
    auto_upgrade = true
  }
}

# The identity dp-runtime acts as in Google Cloud, bound to its Kubernetes service account.
resource "google_service_account" "data_plane" {
  project      = var.project_id
  account_id   = substr("${var.cluster_name}-dp", 0, 30)
  display_name = "Agent Marketplace data plane"
}

resource "google_service_account_iam_member" "workload_identity" {
  service_account_id = google_service_account.data_plane.name
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${var.project_id}.svc.id.goog[${var.namespace}/${var.service_account_name}]"
}

resource "google_project_iam_member" "data_plane" {
  for_each = toset(var.data_plane_roles)

  project = var.project_id
  role    = each.value
  member  = "serviceAccount:${google_service_account.data_plane.email}"
}

resource "kubernetes_storage_class_v1" "memory" {
  metadata {
    name = var.storage_class_name
  }

  storage_provisioner    = "pd.csi.storage.gke.io"
  reclaim_policy         = "Retain"
  volume_binding_mode    = "WaitForFirstConsumer"
  allow_volume_expansion = true
  parameters = {
    type = "pd-balanced"
  }

  depends_on = [google_container_node_pool.data_plane]
}
