-- An org's subscription to a deployment's agent with a monthly fee, charged at the start of each period
-- (calendar month, UTC) while it is active.
CREATE TABLE subscriptions (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    deployment_id uuid NOT NULL REFERENCES deployments (id),
    -- The publishing org, which earns the developer's share of each fee.
    developer_org_id uuid NOT NULL REFERENCES orgs (id),
    agent text NOT NULL,
    monthly_micros bigint NOT NULL,
    created_by uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL,
    cancelled_at timestamptz
);
CREATE INDEX subscriptions_org_id ON subscriptions (org_id);
CREATE INDEX subscriptions_developer_org_id ON subscriptions (developer_org_id);
CREATE INDEX subscriptions_created_by ON subscriptions (created_by);
CREATE INDEX subscriptions_deployment_id ON subscriptions (deployment_id);
-- One active subscription per deployment.
CREATE UNIQUE INDEX subscriptions_active_deployment ON subscriptions (deployment_id) WHERE cancelled_at IS NULL;

-- A subscription's fee for one period (`YYYY-MM`), once, with its journal in ledger_entries.
CREATE TABLE subscription_charges (
    subscription_id uuid NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    period text NOT NULL,
    journal_id uuid NOT NULL UNIQUE,
    org_id uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    developer_org_id uuid NOT NULL REFERENCES orgs (id),
    deployment_id uuid NOT NULL REFERENCES deployments (id),
    agent text NOT NULL,
    total_micros bigint NOT NULL,
    developer_share integer NOT NULL,
    developer_micros bigint NOT NULL,
    platform_micros bigint NOT NULL,
    charged_at timestamptz NOT NULL,
    PRIMARY KEY (subscription_id, period)
);
CREATE INDEX subscription_charges_org_id_period ON subscription_charges (org_id, period);
CREATE INDEX subscription_charges_developer_org_id_period ON subscription_charges (developer_org_id, period);
CREATE INDEX subscription_charges_deployment_id ON subscription_charges (deployment_id);

-- An org's invoice for one period: `draft → issued → paid | void`.
CREATE TABLE invoices (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    period text NOT NULL,
    state text NOT NULL CHECK (state IN ('draft', 'issued', 'paid', 'void')),
    total_micros bigint NOT NULL,
    issued_at timestamptz NOT NULL,
    paid_at timestamptz,
    voided_at timestamptz,
    -- The payment provider's reference for the payment.
    payment_reference text,
    UNIQUE (org_id, period)
);
CREATE INDEX invoices_period ON invoices (period);

-- An invoice's lines: one per agent and charge kind (`base`, `units`, `compute`, `subscription`).
CREATE TABLE invoice_lines (
    invoice_id uuid NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
    agent text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('base', 'units', 'compute', 'subscription')),
    -- Runs for `base`, units counted for `units`, CPU milliseconds for `compute`, fees for `subscription`.
    quantity bigint NOT NULL,
    unit text,
    amount_micros bigint NOT NULL,
    developer_micros bigint NOT NULL,
    platform_micros bigint NOT NULL,
    PRIMARY KEY (invoice_id, agent, kind)
);

-- A developer org's payout for one period: what it earned then plus what was carried in; below the
-- minimum it is carried over to the next period instead of paid.
CREATE TABLE payouts (
    id uuid PRIMARY KEY,
    developer_org_id uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    period text NOT NULL,
    earned_micros bigint NOT NULL,
    carried_in_micros bigint NOT NULL,
    -- Paid out this period (zero when carried over).
    amount_micros bigint NOT NULL,
    carried_out_micros bigint NOT NULL,
    state text NOT NULL CHECK (state IN ('carried_over', 'due', 'paid')),
    created_at timestamptz NOT NULL,
    paid_at timestamptz,
    -- The transfer's reference.
    payment_reference text,
    UNIQUE (developer_org_id, period)
);
CREATE INDEX payouts_period ON payouts (period);
