-- A one-word search sorted by rating, installs, publication or price reads its page off `agents_fts_terms`
-- too: an index per sort, each in the sort's order within a term (with the common filters' columns
-- included), so one plan serves every word and filter value, and a connection prepares it once.
ALTER TABLE agents_fts_terms ADD COLUMN published_at timestamptz;

CREATE OR REPLACE FUNCTION agents_fts_terms_of(listing agents_fts) RETURNS SETOF agents_fts_terms
    LANGUAGE sql STABLE AS $$
    SELECT listing.id, lexeme,
           CASE WHEN 'A' = ANY (weights) THEN 10 ELSE 0 END
               + CASE WHEN 'B' = ANY (weights) THEN 4 ELSE 0 END
               + CASE WHEN 'D' = ANY (weights) THEN 1 ELSE 0 END,
           listing.name, listing.category, listing.tags, listing.capabilities, listing.pricing_model,
           listing.price_micros, listing.risk, listing.installs, listing.rating_avg_milli, listing.published_at
    FROM unnest(listing.document)
$$;

UPDATE agents_fts_terms SET published_at = agents_fts.published_at
    FROM agents_fts WHERE agents_fts.id = agents_fts_terms.id;

CREATE INDEX agents_fts_terms_rating ON agents_fts_terms (term, rating_avg_milli DESC, id)
    INCLUDE (category, pricing_model, price_micros, risk);
CREATE INDEX agents_fts_terms_installs ON agents_fts_terms (term, installs DESC, id)
    INCLUDE (category, pricing_model, price_micros, risk);
CREATE INDEX agents_fts_terms_newest ON agents_fts_terms (term, published_at DESC, id)
    INCLUDE (category, pricing_model, price_micros, risk);
CREATE INDEX agents_fts_terms_price ON agents_fts_terms (term, price_micros, id)
    INCLUDE (category, pricing_model, risk);
