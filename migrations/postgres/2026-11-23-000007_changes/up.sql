-- Every change of state an org can follow live (a run's state, a deployment's state, an approval), written in
-- the transaction that made it: what live streams and WebSocket subscriptions read.
CREATE TABLE changes (
    id bigserial PRIMARY KEY,
    -- The writing transaction. Readers take only changes of transactions older than every one still open,
    -- in (tx, id) order, so no change commits behind a reader's cursor.
    tx bigint NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
    org_id uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    -- `run`, `deployment` or `approval`.
    topic text NOT NULL,
    -- The run, deployment or approval.
    subject uuid NOT NULL,
    body text NOT NULL,
    at timestamptz NOT NULL
);
CREATE INDEX changes_org_id_tx_id ON changes (org_id, tx, id);
