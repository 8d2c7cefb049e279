DROP TABLE ledger_entries;
DROP TABLE charges;
