CREATE INDEX agents_fts_name_document ON agents_fts USING GIN (name_document) WITH (fastupdate = off);
DROP INDEX agents_fts_names_document;
