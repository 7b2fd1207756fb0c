// What the console says for every error code of the service (docs/errors.md) and every rate-limit
// scope. A test fetches /openapi.json from a running service and fails when a code is missing here.
// Data only, so the tests read this file as the page does; errors.ts holds it to the client's
// `ErrorCode` union at compile time. Codes the service is adding are here ahead of that union.

export const MESSAGES = {
  invalid_json: "The request could not be read.",
  unauthorized: "Your sign-in expired or was refused. Sign in again.",
  anonymous_not_allowed: "An anonymous sign-in cannot store MT5 passwords. Sign in with an account.",
  mfa_required: "Storing an MT5 password needs a two-factor sign-in.",
  account_not_found: "Account not found.",
  no_account: "You have no MT5 account yet. Connect one under Accounts.",
  read_only_account: "This account is read-only (investor password): it cannot trade.",
  trading_disabled: "Trading is switched off for this account (its kill switch).",
  symbol_not_found: "The broker has no such symbol.",
  position_not_found: "That position is no longer open.",
  order_not_found: "That pending order no longer exists.",
  algorithm_not_found: "No such algorithm.",
  run_not_found: "No such algorithm run.",
  not_found: "Not found.",
  method_not_allowed: "This action is not available.",
  upgrade_required: "The live stream needs a WebSocket.",
  account_exists: "This account is already connected.",
  algorithm_exists: "An algorithm with this name already exists.",
  account_credentials_invalid:
    "The stored password of this account no longer works. Set it again under Accounts.",
  request_in_progress: "Order in progress.",
  order_outcome_unknown: "Order in progress: its outcome is not known yet.",
  journal_entry_not_found: "No such journal entry.",
  payload_too_large: "The request is too large.",
  validation_failed: "Some fields are not valid.",
  invalid_combination: "These fields cannot go together.",
  mt5_login_failed: "MT5 refused the login: check the login, password and server.",
  account_type_mismatch: "The account type does not match what the terminal reports.",
  trade_rejected: "The broker rejected the order.",
  risk_limit_exceeded: "A risk limit of the account refuses this order.",
  live_confirmation_required: "This is a live account: confirm the live run.",
  idempotency_key_reused: "This submission was already used for a different order.",
  rate_limited: "Too many requests.",
  internal_error: "The service failed. Try again later.",
  terminal_unavailable: "No terminal can serve this account now. Nothing was sent.",
  terminal_trading_disabled: "Trading is switched off on the terminals (Algo Trading off). Reads still work.",
  database_unavailable: "The service's database does not answer. Try again in a moment.",
  journal_unavailable: "The order was sent but not yet recorded; it will be settled shortly.",
  redis_unavailable: "The service's shared store does not answer. Try again in a moment.",
  terminal_timeout: "The terminal did not answer in time: the order may have executed. Check the journal.",
  too_many_connections: "Too many connections are open. Close a tab and try again.",
  algorithm_limit_reached: "You have saved as many algorithms as allowed.",
} as const;

/** Rate-limit scopes (`details.scope` of `429 rate_limited`). */
export const SCOPES: Record<string, string> = {
  switches_per_user: "account switches this hour",
  trades_per_account: "orders on this account this hour",
  failed_connects_per_user: "refused passwords",
  failed_logins_per_login: "refused passwords for this MT5 login",
  queue_per_user: "requests waiting for a terminal",
  streams_per_user: "live streams open (other tabs)",
  subscriptions_per_connection: "subscriptions on one stream",
  symbols_per_user: "symbol reads",
  refusals_per_user: "refused requests",
  dry_runs_per_user: "dry runs",
};
