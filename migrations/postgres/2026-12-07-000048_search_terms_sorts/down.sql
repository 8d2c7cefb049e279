DROP INDEX agents_fts_terms_price;
DROP INDEX agents_fts_terms_newest;
DROP INDEX agents_fts_terms_installs;
DROP INDEX agents_fts_terms_rating;

ALTER TABLE agents_fts_terms DROP COLUMN published_at;
CREATE OR REPLACE FUNCTION agents_fts_terms_of(listing agents_fts) RETURNS SETOF agents_fts_terms
    LANGUAGE sql STABLE AS $$
    SELECT listing.id, lexeme,
           CASE WHEN 'A' = ANY (weights) THEN 10 ELSE 0 END
               + CASE WHEN 'B' = ANY (weights) THEN 4 ELSE 0 END
               + CASE WHEN 'D' = ANY (weights) THEN 1 ELSE 0 END,
           listing.name, listing.category, listing.tags, listing.capabilities, listing.pricing_model,
           listing.price_micros, listing.risk, listing.installs, listing.rating_avg_milli
    FROM unnest(listing.document)
$$;
