-- Every change of state an org can follow live (a run's state, a deployment's state, an approval), written in
-- the transaction that made it: what live streams and WebSocket subscriptions read.
CREATE TABLE changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- One writer at a time commits in id order, so the transaction needs no number here.
    tx BIGINT NOT NULL DEFAULT 0,
    org_id TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    -- `run`, `deployment` or `approval`.
    topic TEXT NOT NULL,
    -- The run, deployment or approval.
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX changes_org_id_tx_id ON changes (org_id, tx, id);
