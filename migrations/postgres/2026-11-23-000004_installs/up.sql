-- An org's install of a published agent version: a deployment, served by data planes that authenticate
-- with the deployment's own credential (`amd_<prefix>_<secret>`, the secret stored as SHA-256).
CREATE TABLE deployments (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    agent uuid NOT NULL REFERENCES agents (id),
    version text NOT NULL,
    previous_version text,
    deployment_type text NOT NULL CHECK (deployment_type IN ('saas', 'byoc')),
    state text NOT NULL CHECK (state IN ('pending', 'ready', 'degraded', 'failed', 'uninstalled')),
    config text NOT NULL,
    granted_permissions text NOT NULL,
    credential_prefix text NOT NULL UNIQUE,
    credential_hash bytea NOT NULL,
    installed_by uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    uninstalled_at timestamptz
);
CREATE INDEX deployments_org_id ON deployments (org_id);
CREATE INDEX deployments_agent ON deployments (agent);
CREATE INDEX deployments_installed_by ON deployments (installed_by);
