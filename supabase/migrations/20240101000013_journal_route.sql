-- Where an order went, so that after a crash the service can ask the agent that was given it
-- (protocol v3's ledger) instead of waiting out its deadline and grace period:
--   terminal_index  the terminal's slot in the pool (simulated terminals first, then the agents in
--                   TERMINALS order): opaque, never the agent's address, since users read their
--                   entries through the Data API;
--   ledger_id       the agent's ledger id (made when its ledger file was created), NULL for a
--                   simulated terminal or a v2 agent;
--   process_run_id  the process run (replica) that wrote the entry.
-- Written under the terminal's lease just before the order is sent (again if a retry lands on
-- another terminal). Users read them (SELECT on the table); only mt5_bridge_writer writes them, as
-- the rest of the journal (its table grants of migration 6 cover new columns). Re-runnable.

ALTER TABLE public.trade_journal ADD COLUMN IF NOT EXISTS terminal_index INTEGER
    CHECK (terminal_index IS NULL OR terminal_index >= 0);
ALTER TABLE public.trade_journal ADD COLUMN IF NOT EXISTS ledger_id VARCHAR(64);
ALTER TABLE public.trade_journal ADD COLUMN IF NOT EXISTS process_run_id VARCHAR(64);
