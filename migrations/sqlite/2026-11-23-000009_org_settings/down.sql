ALTER TABLE orgs DROP COLUMN forbid_self_approval;
