-- An org's install of a published agent version: a deployment, served by data planes that authenticate
-- with the deployment's own credential (`amd_<prefix>_<secret>`, the secret stored as SHA-256).
CREATE TABLE deployments (
    id TEXT PRIMARY KEY NOT NULL,
    org_id TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    agent TEXT NOT NULL REFERENCES agents (id),
    version TEXT NOT NULL,
    previous_version TEXT,
    deployment_type TEXT NOT NULL CHECK (deployment_type IN ('saas', 'byoc')),
    state TEXT NOT NULL CHECK (state IN ('pending', 'ready', 'degraded', 'failed', 'uninstalled')),
    config TEXT NOT NULL,
    granted_permissions TEXT NOT NULL,
    credential_prefix TEXT NOT NULL UNIQUE,
    credential_hash BLOB NOT NULL,
    installed_by TEXT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    uninstalled_at BIGINT
);
CREATE INDEX deployments_org_id ON deployments (org_id);
CREATE INDEX deployments_agent ON deployments (agent);
CREATE INDEX deployments_installed_by ON deployments (installed_by);
