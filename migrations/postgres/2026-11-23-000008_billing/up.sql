-- A run's charge, once per run, in integer micro-dollars: its parts and how it splits.
CREATE TABLE charges (
    run_id uuid PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    -- The customer org, which pays.
    org_id uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    -- The publishing org, which earns the developer's share.
    developer_org_id uuid NOT NULL REFERENCES orgs (id),
    deployment_id uuid NOT NULL REFERENCES deployments (id),
    agent text NOT NULL,
    base_micros bigint NOT NULL,
    unit text,
    unit_count bigint NOT NULL,
    units_micros bigint NOT NULL,
    cpu_ms bigint NOT NULL,
    compute_micros bigint NOT NULL,
    total_micros bigint NOT NULL,
    -- Basis points of the total the developer earns, as set when charged.
    developer_share integer NOT NULL,
    developer_micros bigint NOT NULL,
    platform_micros bigint NOT NULL,
    charged_at timestamptz NOT NULL
);
CREATE INDEX charges_org_id_charged_at ON charges (org_id, charged_at);
CREATE INDEX charges_developer_org_id_charged_at ON charges (developer_org_id, charged_at);
CREATE INDEX charges_deployment_id ON charges (deployment_id);

-- The double-entry ledger: each journal's entries sum to zero. A charge's journal is its run's id: the
-- customer debited (negative), the developer and the platform credited.
CREATE TABLE ledger_entries (
    journal_id uuid NOT NULL,
    -- `customer:<org>`, `developer:<org>` or `platform`.
    account text NOT NULL,
    amount_micros bigint NOT NULL,
    at timestamptz NOT NULL,
    PRIMARY KEY (journal_id, account)
);
CREATE INDEX ledger_entries_account_at ON ledger_entries (account, at);
