//! Every stable error code with its status and what it means, each named once in
//! [`make_error_codes!`]'s list (meilisearch's table is the model): the `ErrorCode` enum, `ALL`,
//! the statuses and names `ApiError` answers with, the OpenAPI document's `ErrorCode` schema and
//! docs/errors.md's table (a test keeps the document in step) all come from that list.

use axum::http::StatusCode;

/// Makes [`ErrorCode`] from one line per code: `Variant = STATUS, "name", "when", "details";`.
/// Listing a code here is all it takes: the enum, [`ErrorCode::ALL`] (in the list's order, which is
/// docs/errors.md's), and every accessor come from the same line, so none can miss a code.
macro_rules! make_error_codes {
    ($($variant:ident = $status:ident, $name:literal, $when:literal, $details:literal;)+) => {
        /// A stable error code: what clients branch on.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($variant,)+
        }

        impl ErrorCode {
            /// Every code, in the order of docs/errors.md's table.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)+];

            /// The code as the API writes it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $name,)+
                }
            }

            /// The HTTP status it is answered with.
            pub fn status(self) -> StatusCode {
                match self {
                    $(ErrorCode::$variant => StatusCode::$status,)+
                }
            }

            /// When it is given (docs/errors.md's "when").
            pub fn description(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $when,)+
                }
            }

            /// What `details` holds (docs/errors.md's "details"; "—" for `null`).
            pub fn details(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $details,)+
                }
            }
        }
    };
}

make_error_codes! {
    InvalidJson = BAD_REQUEST, "invalid_json",
        "the body is not valid JSON",
        "—";

    Unauthorized = UNAUTHORIZED, "unauthorized",
        "missing, malformed or expired token; wrong audience or issuer; role other than `authenticated`; `sub` not a UUID; bad signature; `alg: none`; an algorithm the key does not allow; unknown `kid`",
        "— (a `WWW-Authenticate: Bearer` header is set)";

    AnonymousNotAllowed = FORBIDDEN, "anonymous_not_allowed",
        "an anonymous sign-in (`is_anonymous: true`) tries to store credentials (connect, password change)",
        "—";

    MfaRequired = FORBIDDEN, "mfa_required",
        "`JWT_REQUIRE_AAL2` is `true` and a session that did not pass multi-factor authentication (the token's `aal` is not `aal2`; a token without `aal` has not) tries to store credentials: `POST /api/v1/accounts/connect`, or `PUT /api/v1/accounts/{id}` with a `password`. Nothing reached MT5 and nothing was changed; other routes do not ask for it",
        "—";

    AccountNotFound = NOT_FOUND, "account_not_found",
        "the account does not exist, was deleted, or belongs to another user (never 403: no hint that it exists)",
        "—";

    NoAccount = NOT_FOUND, "no_account",
        "the user has no account to act on (no current and no default)",
        "—";

    ReadOnlyAccount = FORBIDDEN, "read_only_account",
        "an order, modify, close, cancel or non-dry-run algorithm execution on a session whose terminal reports that trading is not allowed (an MT5 investor password, or an account the broker does not let trade); nothing was sent (the journal entry is `refused`). Reads, `POST /orders/check` and dry runs work",
        "—";

    TradingDisabled = FORBIDDEN, "trading_disabled",
        "the account's `risk_limits.trading_enabled` is false",
        "—";

    SymbolNotFound = NOT_FOUND, "symbol_not_found",
        "the broker has no such symbol",
        "—";

    PositionNotFound = NOT_FOUND, "position_not_found",
        "no open position with that ticket on the resolved account (also another account's)",
        "—";

    OrderNotFound = NOT_FOUND, "order_not_found",
        "no pending order with that ticket on the resolved account (also another account's)",
        "—";

    AlgorithmNotFound = NOT_FOUND, "algorithm_not_found",
        "no built-in strategy of that name and no saved configuration of the user's with that id",
        "—";

    RunNotFound = NOT_FOUND, "run_not_found",
        "no algorithm run of the user's with that id",
        "—";

    BotNotFound = NOT_FOUND, "bot_not_found",
        "no bot of the user's with that id (another user's, a deleted one, or none)",
        "—";

    BacktestNotFound = NOT_FOUND, "backtest_not_found",
        "no backtest of the user's with that id (another user's, a deleted one, or none)",
        "—";

    NotFound = NOT_FOUND, "not_found",
        "unknown route",
        "—";

    MethodNotAllowed = METHOD_NOT_ALLOWED, "method_not_allowed",
        "known route, wrong method",
        "—";

    UpgradeRequired = UPGRADE_REQUIRED, "upgrade_required",
        "`GET /api/v1/stream` without a WebSocket upgrade",
        "—";

    AccountExists = CONFLICT, "account_exists",
        "this user already connected this login and server",
        "—";

    AlgorithmExists = CONFLICT, "algorithm_exists",
        "this user already saved an algorithm with this `name`",
        "—";

    BotSymbolTaken = CONFLICT, "bot_symbol_taken",
        "on a netting account (one position per symbol) another running or paused bot already trades the symbol; nothing was written. Stop that bot first, or use a hedging account",
        "`symbol`, `bot_id` (the bot holding it)";

    BotLimitReached = CONFLICT, "bot_limit_reached",
        "the user has `BOTS_PER_USER` bots (50 by default) or the account `BOTS_PER_ACCOUNT` (20 by default), stopped ones included; nothing was written. Delete a stopped bot first",
        "`limit`, `current`, `setting` (`BOTS_PER_USER` or `BOTS_PER_ACCOUNT`)";

    BotStateConflict = CONFLICT, "bot_state_conflict",
        "the bot's state does not allow the change: deleting a bot that is not `stopped`, pausing, resuming or editing a `stopped` one",
        "`state`";

    AlgorithmLimitReached = CONFLICT, "algorithm_limit_reached",
        "the user already has `ALGORITHMS_PER_USER` saved configurations (100 by default); nothing was saved. Delete one first",
        "`limit`, `current`";

    AccountCredentialsInvalid = CONFLICT, "account_credentials_invalid",
        "the account's stored credential cannot serve: its ciphertext does not open for its row (a row written outside the API, or altered), or MT5 refused the stored password (e.g. it was changed at the broker). Nothing ran; after a refusal no login is tried with that credential again until the password is set again with `PUT /api/v1/accounts/{id}`",
        "`reason`: `undecryptable`, or `refused_by_mt5` with `mt5_error_code`, `mt5_error_name`, `mt5_error_message`";

    RequestInProgress = CONFLICT, "request_in_progress",
        "a request with the same `Idempotency-Key` is still running: the repeated request waited up to 2 s for it (a double-click's second request replays the first's answer) and it had not finished. Nothing was sent again; retry after `Retry-After` (1 s)",
        "`journal_id`; a `Retry-After` header";

    OrderOutcomeUnknown = CONFLICT, "order_outcome_unknown",
        "the order sent with this `Idempotency-Key` is `unknown` (its answer was lost): it may have executed. Nothing was sent again. Once the reconciler settles it, the key replays the real outcome; if it settles `not_executed`, the key may be sent again",
        "`journal_id`; a `Retry-After` header";

    JournalEntryNotFound = NOT_FOUND, "journal_entry_not_found",
        "`GET /api/v1/journal/{id}` names no entry of the user's (also another user's)",
        "—";

    PayloadTooLarge = PAYLOAD_TOO_LARGE, "payload_too_large",
        "body over 64 KiB",
        "—";

    ValidationFailed = UNPROCESSABLE_ENTITY, "validation_failed",
        "a field is unknown, of the wrong type, empty, too long, out of range, or otherwise breaks what /openapi.json says of it; an enum name that is not listed in [enums.md](enums.md) (also `unknown_<n>`, which only answers carry); a malformed UUID in the path; a time outside `[1970-01-01T00:00:00Z, 2100-01-01T00:00:00Z)`; a cursor the service did not issue for this route and account (names `cursor`); a market order or close without `type_filling` on a symbol whose `filling_mode` has only policies the service does not know (names `type_filling`; nothing sent); closing a position whose `type` the service does not know (names `ticket`; nothing sent)",
        "`fields`: every field at fault";

    InvalidCombination = UNPROCESSABLE_ENTITY, "invalid_combination",
        "fields each valid on their own that cannot go together: a pending order without `price`, a stop-limit order without `stoplimit`, `type_time` `specified`/`specified_day` without `expiration`; `count` with `from` or `to`, `from` after `to`, or a window over 366 days (history and rates); `from`/`to` that differ from the window of the `cursor` given; a strategy's parameters that contradict each other (`slow_period` ≤ `fast_period`, …)",
        "`fields`: every field at fault";

    Mt5LoginFailed = UNPROCESSABLE_ENTITY, "mt5_login_failed",
        "MT5 refused the login (wrong login, password or server)",
        "`mt5_error_code`, `mt5_error_name`, `mt5_error_message` (MT5's `last_error`)";

    AccountTypeMismatch = UNPROCESSABLE_ENTITY, "account_type_mismatch",
        "`account_type` says `demo` but the terminal reports a real account, or the reverse",
        "`account_type`, `terminal_account_type`";

    TradeRejected = UNPROCESSABLE_ENTITY, "trade_rejected",
        "the broker refused the order",
        "`retcode`, `retcode_name`, `comment` (MT5's)";

    RiskLimitExceeded = UNPROCESSABLE_ENTITY, "risk_limit_exceeded",
        "a risk limit of the account (or the algorithm's `max_positions`) refuses the order",
        "`limit` and its numbers";

    LiveConfirmationRequired = UNPROCESSABLE_ENTITY, "live_confirmation_required",
        "an algorithm run (dry runs too) on a live account without `\"confirm_live\": true`. An account is live when its `account_type` is `live` or its terminal reports a real-money account (`account_info().trade_mode`), whatever the row says. Nothing was sent; when it is the terminal that told, the run is recorded as `failed` with this reason",
        "—";

    IdempotencyKeyReused = UNPROCESSABLE_ENTITY, "idempotency_key_reused",
        "the `Idempotency-Key` was used with a different request",
        "—";

    RateLimited = TOO_MANY_REQUESTS, "rate_limited",
        "a limit was reached: `switches_per_user`, `trades_per_account`, `failed_connects_per_user` (new passwords refused by MT5, per user), `failed_logins_per_login` (the same per MT5 login and server, across users), `refusals_per_user` (orders refused per user: kill switch, risk limits, levels, read-only session; while spent every order request answers this and nothing is journaled), `dry_runs_per_user` (algorithm dry runs and bot replays per user), `queue_per_user` (the user's requests waiting for a terminal; `window_seconds` 0), `streams_per_user` (live streams open at once, across replicas with Redis; `window_seconds` 0); on the stream only: `subscriptions_per_connection`, `symbols_per_user` (distinct `ticks` symbols across the user's streams; `window_seconds` 0)",
        "`scope`, `limit`, `window_seconds`, `retry_after_seconds`; a `Retry-After` header";

    InternalError = INTERNAL_SERVER_ERROR, "internal_error",
        "a fault of the service, never of the input (e.g. a credential encrypted under a key id the service does not hold: an operator fault, logged)",
        "—";

    TerminalUnavailable = SERVICE_UNAVAILABLE, "terminal_unavailable",
        "no terminal can serve the request (disconnected, guard mismatch twice, an agent reply over 32 MiB). For an order it means the order certainly did not run: it was never dispatched to a terminal, no connection to the agent could be made, or the agent refused it before starting (its deadline had passed); the entry is `not_executed` and its `Idempotency-Key` may be sent again",
        "for an order: `journal_id`, `status` (`not_executed`)";

    TerminalTradingDisabled = SERVICE_UNAVAILABLE, "terminal_trading_disabled",
        "an order (or an algorithm run that may trade) while every terminal in service has trading switched off (MT5's \"Algo Trading\" off, or `tradeapi_disabled`); also when a terminal answers 10027 `CLIENT_DISABLES_AT` or `-8` to an order, and for orders already waiting for a terminal when the last one that traded stops (they are told at once, not at their deadline). Nothing was sent; the entry is `not_executed` and its `Idempotency-Key` may be sent again. Reads still work",
        "—";

    DatabaseUnavailable = SERVICE_UNAVAILABLE, "database_unavailable",
        "the database does not answer (restarting, unreachable, out of connections, or closed to connections for maintenance); nothing was done. `Retry-After: 1`",
        "—";

    JournalUnavailable = SERVICE_UNAVAILABLE, "journal_unavailable",
        "an order was sent and the broker answered, but the journal could not record the outcome (the database failed in between). The entry stays `pending` and is settled from the broker's history as soon as the database answers again; retrying with the same `Idempotency-Key` replays it then. `Retry-After: 1`",
        "`journal_id`, `status` (`pending`)";

    RedisUnavailable = SERVICE_UNAVAILABLE, "redis_unavailable",
        "`REDIS_URL` is set and Redis does not answer (sessions, rate limits, terminal leases); nothing was done. `Retry-After: 1`",
        "—";

    TooManyConnections = SERVICE_UNAVAILABLE, "too_many_connections",
        "the process holds as many open sockets as `HTTP_MAX_CONNECTIONS` allows (the socket is answered without its request being read, then closed), or as many streams waiting for their sign-in message as `STREAM_MAX_PENDING` allows (`GET /api/v1/stream` without a token). Nothing was done. `Retry-After: 1`",
        "—";

    TerminalTimeout = GATEWAY_TIMEOUT, "terminal_timeout",
        "the terminal did not answer within `TERMINAL_TIMEOUT_MS`. For an order it means the request reached the terminal side and no answer came back (a timeout, a dropped connection, an agent that died): it may have executed. The entry is `unknown` until the reconciler finds it in the broker's state (`done` or `rejected`) or, once the deadline plus `RECONCILE_GRACE_MS` has passed without a trace, settles it `not_executed`; follow it with `GET /api/v1/journal/{id}`. Never retry such an order without its `Idempotency-Key`",
        "for an order: `journal_id`, `status` (`unknown`)";
}

impl ErrorCode {
    /// The table of docs/errors.md.
    pub fn table_markdown() -> String {
        let mut out = String::from("| status | code | when | details |\n|---|---|---|---|\n");
        for c in Self::ALL {
            out.push_str(&format!(
                "| {} | `{}` | {} | {} |\n",
                c.status().as_u16(),
                c.as_str(),
                c.description(),
                c.details()
            ));
        }
        out
    }
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    #[test]
    fn codes_are_distinct() {
        let mut seen = std::collections::HashSet::new();
        for c in ErrorCode::ALL {
            assert!(seen.insert(c.as_str()), "{} twice", c.as_str());
        }
    }

    #[test]
    fn the_error_doc_is_current() {
        // Resolved at run time (cargo runs tests in the package directory): a build cache shared by
        // checkouts in different folders must not point the test at another checkout's file.
        let path = std::path::Path::new("../../docs/errors.md");
        let doc = std::fs::read_to_string(path).unwrap_or_default();
        let start = doc.find("| status | code |").unwrap_or(doc.len());
        let end = doc[start..]
            .find("\n\n")
            .map_or(doc.len(), |n| start + n + 1);
        let want = ErrorCode::table_markdown();
        if std::env::var("UPDATE_DOCS").is_ok() && start < doc.len() {
            let updated = format!("{}{}{}", &doc[..start], want, &doc[end..]);
            std::fs::write(path, updated).unwrap_or_default();
            return;
        }
        assert!(
            doc[start..end] == want,
            "docs/errors.md's table is not ErrorCode's: run UPDATE_DOCS=1 cargo test -p mt5-bridge the_error_doc"
        );
    }
}
