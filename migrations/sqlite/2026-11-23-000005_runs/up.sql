-- Runs: one per request to run a deployment, with its whole history.
CREATE TABLE runs (
    id TEXT PRIMARY KEY NOT NULL,
    org_id TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    deployment_id TEXT NOT NULL REFERENCES deployments (id),
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'awaiting_approval', 'succeeded', 'failed',
                                         'cancelled', 'remediated')),
    inputs TEXT NOT NULL,
    outputs TEXT,
    priority INTEGER NOT NULL,
    deadline BIGINT,
    -- A retried request with the same key gets the same run; the digest tells a retry from a different
    -- request that reuses the key.
    idempotency_key TEXT,
    request_digest TEXT NOT NULL,
    failure_reason TEXT,
    usage TEXT,
    attempts INTEGER NOT NULL,
    -- The task delivery that finished the run, so a repeated completion is recognised and changes nothing.
    finished_by_task TEXT,
    checkpoint TEXT,
    created_by TEXT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT,
    UNIQUE (deployment_id, idempotency_key)
);
CREATE INDEX runs_org_id_created_at ON runs (org_id, created_at);
CREATE INDEX runs_deployment_id ON runs (deployment_id);
CREATE INDEX runs_created_by ON runs (created_by);

-- The queue's hot table: a run's pending or leased task. Each delivery has its own id (a lost lease puts the
-- task back under a new id), so a data plane that lost its lease cannot complete the next delivery. Finished tasks leave it (the run keeps the
-- history), so the claim index stays small.
CREATE TABLE tasks (
    id TEXT PRIMARY KEY NOT NULL,
    run_id TEXT NOT NULL UNIQUE REFERENCES runs (id) ON DELETE CASCADE,
    deployment_id TEXT NOT NULL REFERENCES deployments (id),
    priority INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    max_attempts INTEGER NOT NULL,
    leased_by TEXT,
    lease_expires_at BIGINT,
    cancel_requested BOOLEAN NOT NULL,
    -- The last event sequence number stored for this delivery.
    last_seq BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX tasks_claim ON tasks (deployment_id, priority DESC, created_at);
CREATE INDEX tasks_lease_expires_at ON tasks (lease_expires_at) WHERE leased_by IS NOT NULL;

-- Every event of a run, by delivery attempt and sequence number (once each: a repeated post changes nothing).
CREATE TABLE run_events (
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL,
    seq BIGINT NOT NULL,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (run_id, attempt, seq)
);

-- Data-plane instances serving a deployment, as they registered and last reported.
CREATE TABLE data_planes (
    deployment_id TEXT NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
    instance_id TEXT NOT NULL,
    version TEXT NOT NULL,
    capabilities TEXT NOT NULL,
    concurrency INTEGER NOT NULL,
    registered_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    PRIMARY KEY (deployment_id, instance_id)
);
