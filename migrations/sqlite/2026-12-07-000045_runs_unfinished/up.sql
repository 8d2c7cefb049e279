-- An org's runs still queued or under way, which its spend cap counts as spending their price per run.
CREATE INDEX runs_unfinished ON runs (org_id) WHERE state IN ('queued', 'running', 'awaiting_approval');
