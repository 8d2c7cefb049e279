DROP TABLE deployments;
