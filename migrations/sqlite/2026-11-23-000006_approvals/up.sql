-- Approvals: a suspended run waits on one until a human decides it or it expires.
CREATE TABLE approvals (
    id TEXT PRIMARY KEY NOT NULL,
    org_id TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    deployment_id TEXT NOT NULL REFERENCES deployments (id),
    -- The task delivery that suspended the run: a repeated suspend of it finds this row.
    task_id TEXT NOT NULL UNIQUE,
    node TEXT NOT NULL,
    -- JSON: what would be done, and what the run found it would change.
    action TEXT NOT NULL,
    impact TEXT NOT NULL,
    reason TEXT,
    -- The org role that may decide (admins always may).
    decider_role TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'rejected', 'expired')),
    requested_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    decided_by TEXT REFERENCES users (id),
    decided_at BIGINT,
    comment TEXT
);
CREATE INDEX approvals_org_id_requested_at ON approvals (org_id, requested_at);
CREATE INDEX approvals_run_id ON approvals (run_id);
CREATE INDEX approvals_deployment_id ON approvals (deployment_id);
CREATE INDEX approvals_decided_by ON approvals (decided_by);
-- Serves the search for pending approvals that expired.
CREATE INDEX approvals_pending_expires_at ON approvals (expires_at) WHERE state = 'pending';
