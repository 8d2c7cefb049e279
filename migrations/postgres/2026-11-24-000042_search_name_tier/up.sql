-- A search of one or two words ranks every listing with a search word in its name above every listing
-- without one, so it first looks among the name matches alone: the names get a tsvector and a GIN index of
-- their own, which find those few listings without visiting the many that match elsewhere.
ALTER TABLE agents_fts ADD COLUMN name_document tsvector NOT NULL
    GENERATED ALWAYS AS (to_tsvector('english', name)) STORED;
CREATE INDEX agents_fts_name_document ON agents_fts USING GIN (name_document) WITH (fastupdate = off);
-- Listings change rarely and are searched all the time, so new entries go straight into the GIN indexes
-- rather than into a pending list that every search would read through until the next vacuum.
ALTER INDEX agents_fts_document SET (fastupdate = off);
SELECT gin_clean_pending_list('agents_fts_document');
-- A search sorted by something other than relevance walks that order and stops at the page's end.
CREATE INDEX agents_fts_rating ON agents_fts (rating_avg_milli DESC, id);
CREATE INDEX agents_fts_installs ON agents_fts (installs DESC, id);
CREATE INDEX agents_fts_newest ON agents_fts (published_at DESC, id);
CREATE INDEX agents_fts_price ON agents_fts (price_micros, id);
