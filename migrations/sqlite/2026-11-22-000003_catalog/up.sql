CREATE TABLE agents (
    id TEXT PRIMARY KEY NOT NULL,
    agent_id TEXT NOT NULL UNIQUE,
    owner_org_id TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    listed BOOLEAN NOT NULL DEFAULT 0,
    current_version TEXT,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    category TEXT NOT NULL,
    tags TEXT NOT NULL,
    capabilities TEXT NOT NULL,
    keywords TEXT NOT NULL,
    pricing_model TEXT NOT NULL CHECK (pricing_model IN ('free', 'usage', 'subscription', 'hybrid')),
    price_micros BIGINT NOT NULL,
    risk TEXT NOT NULL CHECK (risk IN ('low', 'medium', 'high', 'critical')),
    installs BIGINT NOT NULL DEFAULT 0,
    rating_count INTEGER NOT NULL DEFAULT 0,
    rating_sum INTEGER NOT NULL DEFAULT 0,
    rating_avg_milli INTEGER NOT NULL DEFAULT 0,
    stars_1 INTEGER NOT NULL DEFAULT 0,
    stars_2 INTEGER NOT NULL DEFAULT 0,
    stars_3 INTEGER NOT NULL DEFAULT 0,
    stars_4 INTEGER NOT NULL DEFAULT 0,
    stars_5 INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    published_at BIGINT
);
CREATE INDEX agents_owner_org_id ON agents (owner_org_id);
CREATE INDEX agents_listed_published_at ON agents (listed, published_at);

-- Full-text matching: an FTS5 index over the listing's text, kept in step by triggers.
CREATE VIRTUAL TABLE agents_fts USING fts5 (
    name, keywords, description,
    content = 'agents', content_rowid = 'rowid', tokenize = 'porter unicode61'
);
CREATE TRIGGER agents_fts_insert AFTER INSERT ON agents BEGIN
    INSERT INTO agents_fts (rowid, name, keywords, description) VALUES (new.rowid, new.name, new.keywords, new.description);
END;
CREATE TRIGGER agents_fts_delete AFTER DELETE ON agents BEGIN
    INSERT INTO agents_fts (agents_fts, rowid, name, keywords, description)
    VALUES ('delete', old.rowid, old.name, old.keywords, old.description);
END;
CREATE TRIGGER agents_fts_update AFTER UPDATE OF name, keywords, description ON agents BEGIN
    INSERT INTO agents_fts (agents_fts, rowid, name, keywords, description)
    VALUES ('delete', old.rowid, old.name, old.keywords, old.description);
    INSERT INTO agents_fts (rowid, name, keywords, description) VALUES (new.rowid, new.name, new.keywords, new.description);
END;

CREATE TABLE agent_versions (
    id TEXT PRIMARY KEY NOT NULL,
    agent TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    version TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('draft', 'in_review', 'published', 'rejected', 'deprecated')),
    manifest TEXT NOT NULL,
    digest TEXT NOT NULL,
    submitted_by TEXT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    reviewed_by TEXT REFERENCES users (id),
    reviewed_at BIGINT,
    rejection_reason TEXT,
    published_at BIGINT,
    UNIQUE (agent, version)
);
CREATE INDEX agent_versions_submitted_by ON agent_versions (submitted_by);
CREATE INDEX agent_versions_reviewed_by ON agent_versions (reviewed_by);

CREATE TABLE reviews (
    id TEXT PRIMARY KEY NOT NULL,
    agent TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    stars INTEGER NOT NULL CHECK (stars BETWEEN 1 AND 5),
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    reply TEXT,
    replied_at BIGINT,
    UNIQUE (agent, user_id)
);
CREATE INDEX reviews_user_id ON reviews (user_id);
