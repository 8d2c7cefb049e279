-- The hash the head held before the last row (PostgreSQL appends a row in one statement with it; SQLite,
-- one writer at a time, keeps the column only so both schemas match).
ALTER TABLE audit_head ADD COLUMN prev_hash BLOB NOT NULL DEFAULT x'0000000000000000000000000000000000000000000000000000000000000000';
