-- One listing per agent id. The searchable fields are the current published version's; `listed` says
-- whether there is one. Tags and capabilities are kept as `|a|b|` so one LIKE finds a whole value.
CREATE TABLE agents (
    id uuid PRIMARY KEY,
    agent_id text NOT NULL UNIQUE,
    owner_org_id uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    listed boolean NOT NULL DEFAULT false,
    current_version text,
    name text NOT NULL,
    description text NOT NULL,
    category text NOT NULL,
    tags text NOT NULL,
    capabilities text NOT NULL,
    keywords text NOT NULL,
    pricing_model text NOT NULL CHECK (pricing_model IN ('free', 'usage', 'subscription', 'hybrid')),
    price_micros bigint NOT NULL,
    risk text NOT NULL CHECK (risk IN ('low', 'medium', 'high', 'critical')),
    installs bigint NOT NULL DEFAULT 0,
    rating_count integer NOT NULL DEFAULT 0,
    rating_sum integer NOT NULL DEFAULT 0,
    rating_avg_milli integer NOT NULL DEFAULT 0,
    stars_1 integer NOT NULL DEFAULT 0,
    stars_2 integer NOT NULL DEFAULT 0,
    stars_3 integer NOT NULL DEFAULT 0,
    stars_4 integer NOT NULL DEFAULT 0,
    stars_5 integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL,
    published_at timestamptz
);
CREATE INDEX agents_owner_org_id ON agents (owner_org_id);
CREATE INDEX agents_listed_published_at ON agents (listed, published_at);
-- Full-text matching over the listing's text. The catalog queries this exact expression (db/search.rs),
-- so the index serves it.
CREATE INDEX agents_search ON agents USING GIN ((to_tsvector('english', name || ' ' || keywords || ' ' || description)));

CREATE TABLE agent_versions (
    id uuid PRIMARY KEY,
    agent uuid NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    version text NOT NULL,
    state text NOT NULL CHECK (state IN ('draft', 'in_review', 'published', 'rejected', 'deprecated')),
    manifest text NOT NULL,
    digest text NOT NULL,
    submitted_by uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    reviewed_by uuid REFERENCES users (id),
    reviewed_at timestamptz,
    rejection_reason text,
    published_at timestamptz,
    UNIQUE (agent, version)
);
CREATE INDEX agent_versions_submitted_by ON agent_versions (submitted_by);
CREATE INDEX agent_versions_reviewed_by ON agent_versions (reviewed_by);

CREATE TABLE reviews (
    id uuid PRIMARY KEY,
    agent uuid NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    stars integer NOT NULL CHECK (stars BETWEEN 1 AND 5),
    body text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    reply text,
    replied_at timestamptz,
    UNIQUE (agent, user_id)
);
CREATE INDEX reviews_user_id ON reviews (user_id);
