-- An org's subscription to a deployment's agent with a monthly fee, charged at the start of each period
-- (calendar month, UTC) while it is active.
CREATE TABLE subscriptions (
    id TEXT PRIMARY KEY NOT NULL,
    org_id TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    deployment_id TEXT NOT NULL REFERENCES deployments (id),
    -- The publishing org, which earns the developer's share of each fee.
    developer_org_id TEXT NOT NULL REFERENCES orgs (id),
    agent TEXT NOT NULL,
    monthly_micros BIGINT NOT NULL,
    created_by TEXT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    cancelled_at BIGINT
);
CREATE INDEX subscriptions_org_id ON subscriptions (org_id);
CREATE INDEX subscriptions_developer_org_id ON subscriptions (developer_org_id);
CREATE INDEX subscriptions_created_by ON subscriptions (created_by);
CREATE INDEX subscriptions_deployment_id ON subscriptions (deployment_id);
-- One active subscription per deployment.
CREATE UNIQUE INDEX subscriptions_active_deployment ON subscriptions (deployment_id) WHERE cancelled_at IS NULL;

-- A subscription's fee for one period (`YYYY-MM`), once, with its journal in ledger_entries.
CREATE TABLE subscription_charges (
    subscription_id TEXT NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    period TEXT NOT NULL,
    journal_id TEXT NOT NULL UNIQUE,
    org_id TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    developer_org_id TEXT NOT NULL REFERENCES orgs (id),
    deployment_id TEXT NOT NULL REFERENCES deployments (id),
    agent TEXT NOT NULL,
    total_micros BIGINT NOT NULL,
    developer_share INTEGER NOT NULL,
    developer_micros BIGINT NOT NULL,
    platform_micros BIGINT NOT NULL,
    charged_at BIGINT NOT NULL,
    PRIMARY KEY (subscription_id, period)
);
CREATE INDEX subscription_charges_org_id_period ON subscription_charges (org_id, period);
CREATE INDEX subscription_charges_developer_org_id_period ON subscription_charges (developer_org_id, period);
CREATE INDEX subscription_charges_deployment_id ON subscription_charges (deployment_id);

-- An org's invoice for one period: `draft → issued → paid | void`.
CREATE TABLE invoices (
    id TEXT PRIMARY KEY NOT NULL,
    org_id TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    period TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('draft', 'issued', 'paid', 'void')),
    total_micros BIGINT NOT NULL,
    issued_at BIGINT NOT NULL,
    paid_at BIGINT,
    voided_at BIGINT,
    -- The payment provider's reference for the payment.
    payment_reference TEXT,
    UNIQUE (org_id, period)
);
CREATE INDEX invoices_period ON invoices (period);

-- An invoice's lines: one per agent and charge kind (`base`, `units`, `compute`, `subscription`).
CREATE TABLE invoice_lines (
    invoice_id TEXT NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
    agent TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('base', 'units', 'compute', 'subscription')),
    -- Runs for `base`, units counted for `units`, CPU milliseconds for `compute`, fees for `subscription`.
    quantity BIGINT NOT NULL,
    unit TEXT,
    amount_micros BIGINT NOT NULL,
    developer_micros BIGINT NOT NULL,
    platform_micros BIGINT NOT NULL,
    PRIMARY KEY (invoice_id, agent, kind)
);

-- A developer org's payout for one period: what it earned then plus what was carried in; below the
-- minimum it is carried over to the next period instead of paid.
CREATE TABLE payouts (
    id TEXT PRIMARY KEY NOT NULL,
    developer_org_id TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    period TEXT NOT NULL,
    earned_micros BIGINT NOT NULL,
    carried_in_micros BIGINT NOT NULL,
    -- Paid out this period (zero when carried over).
    amount_micros BIGINT NOT NULL,
    carried_out_micros BIGINT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('carried_over', 'due', 'paid')),
    created_at BIGINT NOT NULL,
    paid_at BIGINT,
    -- The transfer's reference.
    payment_reference TEXT,
    UNIQUE (developer_org_id, period)
);
CREATE INDEX payouts_period ON payouts (period);
