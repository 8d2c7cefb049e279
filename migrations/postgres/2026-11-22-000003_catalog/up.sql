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
-- Full-text matching: each listing's text as a stored tsvector, weighted by field (name A, tags and
-- capabilities B, description D) so a search can both match and score without re-parsing any text, kept in
-- step by a trigger (as SQLite's FTS5 table is).
CREATE TABLE agents_fts (
    agent uuid PRIMARY KEY REFERENCES agents (id) ON DELETE CASCADE,
    document tsvector NOT NULL
);
CREATE INDEX agents_fts_document ON agents_fts USING GIN (document);
CREATE FUNCTION agents_fts_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO agents_fts (agent, document)
    VALUES (NEW.id, setweight(to_tsvector('english', NEW.name), 'A')
        || setweight(to_tsvector('english', NEW.keywords), 'B')
        || setweight(to_tsvector('english', NEW.description), 'D'))
    ON CONFLICT (agent) DO UPDATE SET document = EXCLUDED.document;
    RETURN NULL;
END
$$;
CREATE TRIGGER agents_fts_insert AFTER INSERT ON agents
    FOR EACH ROW EXECUTE FUNCTION agents_fts_refresh();
CREATE TRIGGER agents_fts_update AFTER UPDATE OF name, keywords, description ON agents
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.keywords IS DISTINCT FROM NEW.keywords
        OR OLD.description IS DISTINCT FROM NEW.description)
    EXECUTE FUNCTION agents_fts_refresh();

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
