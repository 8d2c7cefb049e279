CREATE INDEX runs_deployment_id ON runs (deployment_id);
