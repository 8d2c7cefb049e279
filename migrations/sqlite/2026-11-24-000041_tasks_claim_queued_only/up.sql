-- The claim index holds only queued tasks: a claim (and the look that comes before it) no longer steps over
-- the leased tasks of its deployment, and leasing a task takes it out of the index rather than adding an
-- entry. (Deployments are never deleted, so the foreign key needs no index on every task.)
DROP INDEX tasks_claim;
CREATE INDEX tasks_claim ON tasks (deployment_id, priority DESC, created_at) WHERE leased_by IS NULL;
