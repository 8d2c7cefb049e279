-- Whether an org forbids approving an approval of a run one started oneself.
ALTER TABLE orgs ADD COLUMN forbid_self_approval boolean NOT NULL DEFAULT false;
