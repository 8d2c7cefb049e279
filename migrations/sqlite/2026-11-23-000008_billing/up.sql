-- A run's charge, once per run, in integer micro-dollars: its parts and how it splits.
CREATE TABLE charges (
    run_id TEXT PRIMARY KEY NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    -- The customer org, which pays.
    org_id TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    -- The publishing org, which earns the developer's share.
    developer_org_id TEXT NOT NULL REFERENCES orgs (id),
    deployment_id TEXT NOT NULL REFERENCES deployments (id),
    agent TEXT NOT NULL,
    base_micros BIGINT NOT NULL,
    unit TEXT,
    unit_count BIGINT NOT NULL,
    units_micros BIGINT NOT NULL,
    cpu_ms BIGINT NOT NULL,
    compute_micros BIGINT NOT NULL,
    total_micros BIGINT NOT NULL,
    -- Basis points of the total the developer earns, as set when charged.
    developer_share INTEGER NOT NULL,
    developer_micros BIGINT NOT NULL,
    platform_micros BIGINT NOT NULL,
    charged_at BIGINT NOT NULL
);
CREATE INDEX charges_org_id_charged_at ON charges (org_id, charged_at);
CREATE INDEX charges_developer_org_id_charged_at ON charges (developer_org_id, charged_at);
CREATE INDEX charges_deployment_id ON charges (deployment_id);

-- The double-entry ledger: each journal's entries sum to zero. A charge's journal is its run's id: the
-- customer debited (negative), the developer and the platform credited.
CREATE TABLE ledger_entries (
    journal_id TEXT NOT NULL,
    -- `customer:<org>`, `developer:<org>` or `platform`.
    account TEXT NOT NULL,
    amount_micros BIGINT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (journal_id, account)
);
CREATE INDEX ledger_entries_account_at ON ledger_entries (account, at);
