-- An org's webhooks: where its changes of state are posted, signed with the webhook's secret.
CREATE TABLE webhooks (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    url text NOT NULL,
    -- JSON array of event patterns: `run.succeeded`, `approval.*`, `*`.
    events text NOT NULL,
    -- `json` (the event as is) or `slack` (a Slack-compatible message).
    format text NOT NULL,
    description text,
    -- `whsec_` and the base64 of the signing key.
    secret text NOT NULL,
    active boolean NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX webhooks_org_id ON webhooks (org_id);

-- The outbox: one row per webhook and change, written before anything is sent, sent until it is delivered or
-- its time runs out.
CREATE TABLE webhook_deliveries (
    id uuid PRIMARY KEY,
    webhook_id uuid NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    org_id uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    -- The change delivered (none for a test ping).
    change_id bigint,
    event text NOT NULL,
    -- The JSON event, as signed and sent in the `json` format.
    body text NOT NULL,
    -- `pending`, `delivered` or `failed` (retries ran out).
    state text NOT NULL,
    attempts integer NOT NULL,
    -- When it is next due; while a sender holds it, when that sender's hold runs out.
    next_attempt_at timestamptz NOT NULL,
    -- No retry after this.
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL,
    delivered_at timestamptz,
    UNIQUE (webhook_id, change_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_webhook_id_id ON webhook_deliveries (webhook_id, id);

-- Every attempt to deliver, as the receiver answered it.
CREATE TABLE webhook_attempts (
    id uuid PRIMARY KEY,
    delivery_id uuid NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt integer NOT NULL,
    at timestamptz NOT NULL,
    -- The receiver's HTTP status, when it answered.
    status integer,
    -- Why the attempt failed, when it did.
    error text,
    duration_ms bigint NOT NULL
);
CREATE INDEX webhook_attempts_delivery_id ON webhook_attempts (delivery_id, attempt);

-- How far the senders have read `changes` (one row).
CREATE TABLE webhook_cursor (
    id integer PRIMARY KEY CHECK (id = 1),
    tx bigint NOT NULL,
    change_id bigint NOT NULL
);
INSERT INTO webhook_cursor (id, tx, change_id) VALUES (1, 0, 0);

-- Senders read every org's changes in (tx, id) order.
CREATE INDEX changes_tx_id ON changes (tx, id);
