DROP TABLE reviews;
DROP TABLE agent_versions;
DROP TRIGGER agents_fts_update;
DROP TRIGGER agents_fts_delete;
DROP TRIGGER agents_fts_insert;
DROP TABLE agents_fts;
DROP TABLE agents;
