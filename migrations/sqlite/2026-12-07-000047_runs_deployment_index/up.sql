-- Runs are found by deployment through the unique index on (deployment_id, idempotency_key), whose first
-- column this one repeated: every run's insert and change of state paid for both.
DROP INDEX runs_deployment_id;
