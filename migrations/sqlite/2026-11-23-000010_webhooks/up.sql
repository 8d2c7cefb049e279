-- An org's webhooks: where its changes of state are posted, signed with the webhook's secret.
CREATE TABLE webhooks (
    id TEXT PRIMARY KEY NOT NULL,
    org_id TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    -- JSON array of event patterns: `run.succeeded`, `approval.*`, `*`.
    events TEXT NOT NULL,
    -- `json` (the event as is) or `slack` (a Slack-compatible message).
    format TEXT NOT NULL,
    description TEXT,
    -- `whsec_` and the base64 of the signing key.
    secret TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX webhooks_org_id ON webhooks (org_id);

-- The outbox: one row per webhook and change, written before anything is sent, sent until it is delivered or
-- its time runs out.
CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY NOT NULL,
    webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    org_id TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    -- The change delivered (none for a test ping).
    change_id BIGINT,
    event TEXT NOT NULL,
    -- The JSON event, as signed and sent in the `json` format.
    body TEXT NOT NULL,
    -- `pending`, `delivered` or `failed` (retries ran out).
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    -- When it is next due; while a sender holds it, when that sender's hold runs out.
    next_attempt_at BIGINT NOT NULL,
    -- No retry after this.
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    delivered_at BIGINT,
    UNIQUE (webhook_id, change_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_webhook_id_id ON webhook_deliveries (webhook_id, id);

-- Every attempt to deliver, as the receiver answered it.
CREATE TABLE webhook_attempts (
    id TEXT PRIMARY KEY NOT NULL,
    delivery_id TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL,
    at BIGINT NOT NULL,
    -- The receiver's HTTP status, when it answered.
    status INTEGER,
    -- Why the attempt failed, when it did.
    error TEXT,
    duration_ms BIGINT NOT NULL
);
CREATE INDEX webhook_attempts_delivery_id ON webhook_attempts (delivery_id, attempt);

-- How far the senders have read `changes` (one row).
CREATE TABLE webhook_cursor (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    tx BIGINT NOT NULL,
    change_id BIGINT NOT NULL
);
INSERT INTO webhook_cursor (id, tx, change_id) VALUES (1, 0, 0);

-- Senders read every org's changes in (tx, id) order.
CREATE INDEX changes_tx_id ON changes (tx, id);
