-- Secrets the control plane makes for itself (the token signing key), shared by every replica.
CREATE TABLE settings (
    name text PRIMARY KEY,
    value bytea NOT NULL
);

-- Refresh tokens rotate on use; presenting a used one revokes its whole family.
CREATE TABLE refresh_tokens (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family_id uuid NOT NULL,
    token_hash bytea NOT NULL UNIQUE,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    revoked_at timestamptz
);
CREATE INDEX refresh_tokens_user_id ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_family_id ON refresh_tokens (family_id);

-- The audit log is a hash chain: each row's hash covers the previous row's. The one head row is updated
-- first by every append, which serializes appenders, and holds the last sequence number and hash so a
-- deleted tail is detected too. No foreign keys: the log outlives what it mentions.
CREATE TABLE audit_head (
    id integer PRIMARY KEY CHECK (id = 1),
    seq bigint NOT NULL,
    hash bytea NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));

CREATE TABLE audit_log (
    seq bigint PRIMARY KEY,
    at timestamptz NOT NULL,
    actor_user_id uuid,
    org_id uuid,
    action text NOT NULL,
    target text NOT NULL,
    change_digest text NOT NULL,
    client_addr text,
    prev_hash bytea NOT NULL,
    hash bytea NOT NULL
);
CREATE INDEX audit_log_org_id_seq ON audit_log (org_id, seq);
