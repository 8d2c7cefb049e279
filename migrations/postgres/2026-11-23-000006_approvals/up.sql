-- Approvals: a suspended run waits on one until a human decides it or it expires.
CREATE TABLE approvals (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    run_id uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    deployment_id uuid NOT NULL REFERENCES deployments (id),
    -- The task delivery that suspended the run: a repeated suspend of it finds this row.
    task_id uuid NOT NULL UNIQUE,
    node text NOT NULL,
    -- JSON: what would be done, and what the run found it would change.
    action text NOT NULL,
    impact text NOT NULL,
    reason text,
    -- The org role that may decide (admins always may).
    decider_role text NOT NULL,
    state text NOT NULL CHECK (state IN ('pending', 'approved', 'rejected', 'expired')),
    requested_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    decided_by uuid REFERENCES users (id),
    decided_at timestamptz,
    comment text
);
CREATE INDEX approvals_org_id_requested_at ON approvals (org_id, requested_at);
CREATE INDEX approvals_run_id ON approvals (run_id);
CREATE INDEX approvals_deployment_id ON approvals (deployment_id);
CREATE INDEX approvals_decided_by ON approvals (decided_by);
-- Serves the search for pending approvals that expired.
CREATE INDEX approvals_pending_expires_at ON approvals (expires_at) WHERE state = 'pending';
