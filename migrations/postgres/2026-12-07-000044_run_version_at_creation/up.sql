-- A run runs the version its deployment had when the run was created, and keeps it through retries,
-- resumptions and upgrades. Runs stored before that was recorded at creation take their deployment's
-- version now.
UPDATE runs SET version = (SELECT deployments.version FROM deployments WHERE deployments.id = runs.deployment_id)
WHERE version IS NULL;
