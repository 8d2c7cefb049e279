-- A search of two words looks first among the listings with a search word in their name and every word in
-- the document. One GIN index over both tsvectors answers that in one scan: it walks the few entries of the
-- names' words and skips through the long lists of the document's words, where two indexes each read
-- their whole lists and intersect the bitmaps.
CREATE INDEX agents_fts_names_document ON agents_fts USING GIN (name_document, document) WITH (fastupdate = off);
DROP INDEX agents_fts_name_document;
