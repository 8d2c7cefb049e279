DROP TRIGGER agents_fts_terms_refresh ON agents_fts;
DROP FUNCTION agents_fts_terms_refresh();
DROP FUNCTION agents_fts_terms_of(agents_fts);
DROP TABLE agents_fts_terms;
