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
-- The search table: one row per listed agent with its text as a stored tsvector weighted by field (name A,
-- tags and capabilities B, description D), so a search matches under the GIN index and scores without
-- re-parsing text, plus a copy of every column a search filters or sorts on, so a search ranks and pages
-- within this table and reads only the page's rows from `agents`. A trigger keeps it in step (as SQLite's
-- FTS5 table is kept).
CREATE TABLE agents_fts (
    id uuid PRIMARY KEY REFERENCES agents (id) ON DELETE CASCADE,
    document tsvector NOT NULL,
    name text NOT NULL,
    category text NOT NULL,
    tags text NOT NULL,
    capabilities text NOT NULL,
    pricing_model text NOT NULL,
    price_micros bigint NOT NULL,
    risk text NOT NULL,
    installs bigint NOT NULL,
    rating_avg_milli integer NOT NULL,
    published_at timestamptz
);
CREATE INDEX agents_fts_document ON agents_fts USING GIN (document);
CREATE FUNCTION agents_fts_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT NEW.listed THEN
        DELETE FROM agents_fts WHERE id = NEW.id;
        RETURN NULL;
    END IF;
    INSERT INTO agents_fts (id, document, name, category, tags, capabilities, pricing_model, price_micros, risk,
                            installs, rating_avg_milli, published_at)
    VALUES (NEW.id,
            setweight(to_tsvector('english', NEW.name), 'A')
                || setweight(to_tsvector('english', NEW.keywords), 'B')
                || setweight(to_tsvector('english', NEW.description), 'D'),
            NEW.name, NEW.category, NEW.tags, NEW.capabilities, NEW.pricing_model, NEW.price_micros, NEW.risk,
            NEW.installs, NEW.rating_avg_milli, NEW.published_at)
    ON CONFLICT (id) DO UPDATE SET
        document = EXCLUDED.document, name = EXCLUDED.name, category = EXCLUDED.category,
        tags = EXCLUDED.tags, capabilities = EXCLUDED.capabilities, pricing_model = EXCLUDED.pricing_model,
        price_micros = EXCLUDED.price_micros, risk = EXCLUDED.risk, installs = EXCLUDED.installs,
        rating_avg_milli = EXCLUDED.rating_avg_milli, published_at = EXCLUDED.published_at;
    RETURN NULL;
END
$$;
CREATE TRIGGER agents_fts_insert AFTER INSERT ON agents
    FOR EACH ROW EXECUTE FUNCTION agents_fts_refresh();
CREATE TRIGGER agents_fts_update AFTER UPDATE ON agents
    FOR EACH ROW WHEN ((OLD.listed, OLD.name, OLD.keywords, OLD.description, OLD.category, OLD.tags,
                        OLD.capabilities, OLD.pricing_model, OLD.price_micros, OLD.risk, OLD.installs,
                        OLD.rating_avg_milli, OLD.published_at)
        IS DISTINCT FROM (NEW.listed, NEW.name, NEW.keywords, NEW.description, NEW.category, NEW.tags,
                          NEW.capabilities, NEW.pricing_model, NEW.price_micros, NEW.risk, NEW.installs,
                          NEW.rating_avg_milli, NEW.published_at))
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
