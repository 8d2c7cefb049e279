-- Runs: one per request to run a deployment, with its whole history.
CREATE TABLE runs (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    deployment_id uuid NOT NULL REFERENCES deployments (id),
    state text NOT NULL CHECK (state IN ('queued', 'running', 'awaiting_approval', 'succeeded', 'failed',
                                         'cancelled', 'remediated')),
    inputs text NOT NULL,
    outputs text,
    priority integer NOT NULL,
    deadline timestamptz,
    -- A retried request with the same key gets the same run; the digest tells a retry from a different
    -- request that reuses the key.
    idempotency_key text,
    request_digest text NOT NULL,
    failure_reason text,
    usage text,
    attempts integer NOT NULL,
    -- The task delivery that finished the run, so a repeated completion is recognised and changes nothing.
    finished_by_task uuid,
    checkpoint text,
    created_by uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL,
    started_at timestamptz,
    finished_at timestamptz,
    UNIQUE (deployment_id, idempotency_key)
);
CREATE INDEX runs_org_id_created_at ON runs (org_id, created_at);
CREATE INDEX runs_deployment_id ON runs (deployment_id);
CREATE INDEX runs_created_by ON runs (created_by);

-- The queue's hot table: a run's pending or leased task. Each delivery has its own id (a lost lease puts the
-- task back under a new id), so a data plane that lost its lease cannot complete the next delivery. Finished tasks leave it (the run keeps the
-- history), so the claim index stays small.
CREATE TABLE tasks (
    id uuid PRIMARY KEY,
    run_id uuid NOT NULL UNIQUE REFERENCES runs (id) ON DELETE CASCADE,
    deployment_id uuid NOT NULL REFERENCES deployments (id),
    priority integer NOT NULL,
    attempt integer NOT NULL,
    max_attempts integer NOT NULL,
    leased_by text,
    lease_expires_at timestamptz,
    cancel_requested boolean NOT NULL,
    -- The last event sequence number stored for this delivery.
    last_seq bigint NOT NULL,
    created_at timestamptz NOT NULL
);
-- Serves the claim (a deployment's unleased tasks, by priority then age: the leased ones among them are at
-- most its data planes' slots) and the foreign key.
CREATE INDEX tasks_claim ON tasks (deployment_id, priority DESC, created_at);
-- Serves the search for expired leases.
CREATE INDEX tasks_lease_expires_at ON tasks (lease_expires_at) WHERE leased_by IS NOT NULL;

-- Every event of a run, by delivery attempt and sequence number (once each: a repeated post changes nothing).
CREATE TABLE run_events (
    run_id uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    attempt integer NOT NULL,
    seq bigint NOT NULL,
    at timestamptz NOT NULL,
    kind text NOT NULL,
    body text NOT NULL,
    PRIMARY KEY (run_id, attempt, seq)
);

-- Data-plane instances serving a deployment, as they registered and last reported.
CREATE TABLE data_planes (
    deployment_id uuid NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
    instance_id text NOT NULL,
    version text NOT NULL,
    capabilities text NOT NULL,
    concurrency integer NOT NULL,
    registered_at timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    PRIMARY KEY (deployment_id, instance_id)
);
