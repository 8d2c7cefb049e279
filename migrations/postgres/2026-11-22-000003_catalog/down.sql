DROP TABLE reviews;
DROP TABLE agent_versions;
DROP TABLE agents;
