-- Whether an org forbids approving an approval of a run one started oneself.
ALTER TABLE orgs ADD COLUMN forbid_self_approval BOOLEAN NOT NULL DEFAULT 0;
