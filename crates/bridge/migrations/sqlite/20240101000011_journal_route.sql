-- The SQLite counterpart of Postgres migration 20240101000013_journal_route.sql: where an order
-- went (the terminal's slot in the pool, the agent's ledger id) and the process run that wrote
-- the entry. Added columns only: no rebuild.

ALTER TABLE trade_journal ADD COLUMN terminal_index INTEGER
    CHECK (terminal_index IS NULL OR terminal_index >= 0);
ALTER TABLE trade_journal ADD COLUMN ledger_id TEXT
    CHECK (ledger_id IS NULL OR length(ledger_id) <= 64);
ALTER TABLE trade_journal ADD COLUMN process_run_id TEXT
    CHECK (process_run_id IS NULL OR length(process_run_id) <= 64);
