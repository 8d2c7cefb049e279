DROP TABLE reviews;
DROP TABLE agent_versions;
DROP TABLE agents_fts;
DROP TABLE agents;
DROP FUNCTION agents_fts_refresh;
