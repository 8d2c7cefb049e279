DROP INDEX agents_fts_price;
DROP INDEX agents_fts_newest;
DROP INDEX agents_fts_installs;
DROP INDEX agents_fts_rating;
ALTER TABLE agents_fts DROP COLUMN name_document;
ALTER INDEX agents_fts_document RESET (fastupdate);
