DROP INDEX tasks_claim;
CREATE INDEX tasks_claim ON tasks (deployment_id, priority DESC, created_at);
