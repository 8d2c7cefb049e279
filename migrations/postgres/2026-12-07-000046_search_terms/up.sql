-- A one-word search ranks listings by where the word is (10 in the name, 4 in the tags or capabilities, 1 in
-- the description: the formula of `db::search`), then by rating, installs and name. `agents_fts_terms`
-- holds each word of each listing with that score, the tie-breakers and the columns a search filters on,
-- under an index in exactly that order (with the common filters' columns included), so a one-word search
-- reads the page's entries off the index instead of scoring every listing that matches. A trigger on
-- `agents_fts` keeps it in step: a listing's terms are rewritten whenever its row there changes. An index
-- entry holds a term (a lexeme keeps at most 2,046 bytes) and the name (a manifest's is at most 100
-- characters), within btree's limit of 2,704 bytes; a test publishes a listing at those limits.
CREATE TABLE agents_fts_terms (
    id uuid NOT NULL REFERENCES agents_fts (id) ON DELETE CASCADE,
    term text NOT NULL,
    score integer NOT NULL,
    name text NOT NULL,
    category text NOT NULL,
    tags text NOT NULL,
    capabilities text NOT NULL,
    pricing_model text NOT NULL,
    price_micros bigint NOT NULL,
    risk text NOT NULL,
    installs bigint NOT NULL,
    rating_avg_milli integer NOT NULL,
    PRIMARY KEY (id, term)
);
CREATE INDEX agents_fts_terms_rank ON agents_fts_terms
    (term, score DESC, rating_avg_milli DESC, installs DESC, name, id)
    INCLUDE (category, pricing_model, price_micros, risk);

-- The terms of one `agents_fts` row: each lexeme of its document, scored by the fields (weights) it is in.
CREATE FUNCTION agents_fts_terms_of(listing agents_fts) RETURNS SETOF agents_fts_terms
    LANGUAGE sql STABLE AS $$
    SELECT listing.id, lexeme,
           CASE WHEN 'A' = ANY (weights) THEN 10 ELSE 0 END
               + CASE WHEN 'B' = ANY (weights) THEN 4 ELSE 0 END
               + CASE WHEN 'D' = ANY (weights) THEN 1 ELSE 0 END,
           listing.name, listing.category, listing.tags, listing.capabilities, listing.pricing_model,
           listing.price_micros, listing.risk, listing.installs, listing.rating_avg_milli
    FROM unnest(listing.document)
$$;

CREATE FUNCTION agents_fts_terms_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM agents_fts_terms WHERE id = NEW.id;
    INSERT INTO agents_fts_terms SELECT * FROM agents_fts_terms_of(NEW);
    RETURN NULL;
END
$$;
CREATE TRIGGER agents_fts_terms_refresh AFTER INSERT OR UPDATE ON agents_fts
    FOR EACH ROW EXECUTE FUNCTION agents_fts_terms_refresh();

INSERT INTO agents_fts_terms SELECT terms.* FROM agents_fts, agents_fts_terms_of(agents_fts) AS terms;
