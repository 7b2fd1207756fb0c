// Generated from mt5-bridge's /openapi.json by scripts/generate.mjs (openapi-typescript); do not edit.
export interface paths {
    "/api/v1/account": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The resolved account's live AccountInfo. */
        get: operations["account_info"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/accounts": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List the user's accounts.
         * @description Never a password or ciphertext.
         */
        get: operations["list_accounts"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/accounts/{account_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One account with its settings. */
        get: operations["get_account"];
        /**
         * Update an account's settings.
         * @description A partial update: absent fields stay as they are. A new password is verified by a login before
         *     it is stored; a new account type is checked against the terminal.
         */
        put: operations["update_account"];
        post?: never;
        /**
         * Remove an account.
         * @description A soft delete: the stored ciphertext is overwritten. If it was the default, the oldest remaining
         *     account becomes the default.
         */
        delete: operations["delete_account"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/accounts/{account_id}/report": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The account's trading over a window, from its deals: net profit and its parts, the balance's
         *     drawdown, the trades' statistics, commission, swap and fees; deposits, withdrawals and credit
         *     apart from P&L. What deals cannot tell (equity drawdown, spread, slippage) is null, named in
         *     `unavailable` with why.
         */
        get: operations["account_report"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/accounts/{account_id}/switch": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Make an account the current one.
         * @description Logs a terminal in to it (if none is already) and makes it the account later requests act on.
         */
        post: operations["switch_account"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/accounts/connect": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Connect an MT5 account.
         * @description Logs a terminal in with the credentials to verify them, encrypts the password and stores the
         *     account. It becomes the default when `set_as_default` is true or it is the user's first.
         *     Connecting a login and server this user deleted before reactivates that account.
         */
        post: operations["connect_account"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/accounts/current": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The current account, with live balance and equity.
         * @description The account of the last switch (it expires after `SESSION_TTL_S` unused), else the default.
         */
        get: operations["current_account"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/algorithms": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The built-in strategies and the user's saved configurations.
         * @description `saved` is paged, oldest first: at most `limit` configurations (default and largest: the
         *     `ALGORITHMS_PER_USER` cap, so a client that does not page gets every one; a larger `limit` is
         *     read as the cap), then `next_cursor` for the next page (null on the last). `builtin` is in
         *     every page.
         */
        get: operations["list_algorithms"];
        put?: never;
        /** Save a configuration of a built-in strategy. */
        post: operations["create_algorithm"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/algorithms/{algorithm_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One saved configuration. */
        get: operations["get_algorithm"];
        /**
         * Update a saved configuration.
         * @description A partial update of name, kind and parameters, validated together.
         */
        put: operations["update_algorithm"];
        post?: never;
        /** Delete a saved configuration. */
        delete: operations["delete_algorithm"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/algorithms/execute": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Run one pass of an algorithm on one of the user's accounts.
         * @description A built-in strategy by name or a saved configuration by id. Entries are sized by risk, checked
         *     against the account's risk limits and journaled before they are sent; what is not sent is in
         *     `skipped` with why (docs/algorithms.md).
         */
        post: operations["execute_algorithm"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/algorithms/runs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The user's algorithm runs, newest first. */
        get: operations["list_runs"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/algorithms/runs/{run_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One algorithm run. */
        get: operations["get_run"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/audit": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The user's audit log, newest first.
         * @description Connects, failed connects, password changes, switches and deletes of the user's own accounts;
         *     never a password, token or ciphertext.
         */
        get: operations["list_audit"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/backtests": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The user's backtests, newest first. */
        get: operations["list_backtests"];
        put?: never;
        /**
         * Queues a backtest or a parameter sweep.
         * @description Everything is checked now (strategy parameters of every combination, window, costs) and
         *     nothing is read from a terminal: a symbol the broker does not have fails the job when it
         *     starts (`symbol_not_found`). The work (bars × combinations) counts against the user's daily
         *     budget (`BACKTEST_WORK_PER_DAY`).
         */
        post: operations["create_backtest"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/backtests/{backtest_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One backtest: its status, progress, normalized request and, once done, its results. */
        get: operations["get_backtest"];
        put?: never;
        post?: never;
        /**
         * Cancels a queued or running backtest (`202`, `canceled`, stops within a second, no results
         *     kept), or deletes a finished one (`204`; then `404 backtest_not_found`).
         */
        delete: operations["delete_backtest"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/backtests/{backtest_id}/equity": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * A combination's balance and equity curve in at most `points` buckets; each keeps the lowest
         *     and highest equity inside it, so a drawdown is never smoothed away.
         */
        get: operations["get_backtest_equity"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/backtests/{backtest_id}/trades": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A combination's closed trades, oldest first (empty until it is done). */
        get: operations["list_backtest_trades"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/bots": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The user's bots, oldest first. */
        get: operations["list_bots"];
        put?: never;
        /** Create a bot: it runs on every closed bar of its timeframe from now on. */
        post: operations["create_bot"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/bots/{bot_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One bot. */
        get: operations["get_bot"];
        /** New parameters for a bot (over its own, validated as on creation); from its next bar. */
        put: operations["update_bot"];
        post?: never;
        /** Delete a stopped bot (its runs keep their `bot_id`). */
        delete: operations["delete_bot"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/bots/{bot_id}/pause": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Pause a bot: it evaluates nothing until resumed. Pausing a paused bot changes nothing. */
        post: operations["pause_bot"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/bots/{bot_id}/replay": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Re-evaluate a bot's recorded passes through the shared strategy driver, on the bars of the
         *     bar cache and the positions each pass recorded, and list the passes whose intents differ.
         */
        get: operations["replay_bot"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/bots/{bot_id}/resume": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Resume a paused or faulted bot: from the next closed bar (a faulted bot's fault is checked
         *     again by that pass). Resuming a running bot changes nothing.
         */
        post: operations["resume_bot"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/bots/{bot_id}/stop": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Stop a bot for good (it can then be deleted); with `close_positions`, its positions are closed
         *     through the order pipeline, journaled. A close that fails leaves the bot stopped with the
         *     positions in `open_positions`.
         */
        post: operations["stop_bot"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/bots/kill_switch": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * The kill switch: pause every running bot of the user, or of one account, in one call (state
         *     `paused`, reason `kill_switch`). Risk limits are not touched.
         */
        post: operations["kill_switch"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/history/deals": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The resolved account's deals in a time range.
         * @description Default: the last 24 hours, 100 per page. Later pages (`cursor`) keep the first page's window:
         *     what arrives between pages is on none of them.
         */
        get: operations["history_deals"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/history/orders": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The resolved account's history orders in a time range.
         * @description Default: the last 24 hours, 100 per page. Later pages (`cursor`) keep the first page's window:
         *     what arrives between pages is on none of them.
         */
        get: operations["history_orders"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/journal": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The user's order journal, newest first. */
        get: operations["journal"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/journal/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * One journal entry of the user's.
         * @description The way to follow an order whose answer was lost (`terminal_timeout` with
         *     `details.status: "unknown"`): its status turns `done`, `rejected` or `not_executed` once the
         *     broker's history settles it.
         */
        get: operations["journal_entry"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orders": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The resolved account's active pending orders. */
        get: operations["list_orders"];
        put?: never;
        /**
         * Place a market or pending order.
         * @description Journaled as `pending` before it is sent, then completed with MT5's result. The account's risk
         *     limits apply.
         */
        post: operations["place_order"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orders/{ticket}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        /**
         * Modify a pending order.
         * @description Its price, SL, TP, stop-limit price or expiration; absent fields are kept.
         */
        put: operations["modify_order"];
        post?: never;
        /** Cancel a pending order. */
        delete: operations["cancel_order"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orders/check": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Check an order without sending it.
         * @description MT5's `order_check` for the body of `POST /orders`; nothing is sent or journaled.
         */
        post: operations["check_order"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/positions": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The resolved account's open positions. */
        get: operations["list_positions"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/positions/{ticket}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        /**
         * Change a position's SL and/or TP.
         * @description An absent one is kept; null removes it.
         */
        put: operations["modify_position"];
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/positions/{ticket}/close": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Close a position, or part of it.
         * @description With `volume`, only that many lots close; without a body, the whole position.
         */
        post: operations["close_position"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/stream": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Live updates over a WebSocket (docs/streaming.md).
         * @description With `Authorization: Bearer` on the upgrade a bad token answers `401` without upgrading;
         *     without it, the first message must be `{"type":"auth","token":"<jwt>"}` within 10 s. A user
         *     with `STREAM_MAX_CONNECTIONS_PER_USER` streams open gets `429 rate_limited` (scope
         *     `streams_per_user`). Without a token, at most `STREAM_MAX_PENDING` upgrades may wait for their
         *     `auth` message at once: more answer `503 too_many_connections`.
         */
        get: operations["stream"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/symbols": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The broker's symbols. */
        get: operations["list_symbols"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/symbols/{symbol}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One symbol's SymbolInfo. */
        get: operations["get_symbol"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/symbols/{symbol}/rates": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * A symbol's bars, oldest first.
         * @description The latest `count` bars, or those between `from` and `to`.
         */
        get: operations["get_rates"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/symbols/{symbol}/tick": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A symbol's last quote. */
        get: operations["get_tick"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/asyncapi.json": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The AsyncAPI document of the live stream. */
        get: operations["asyncapi_document"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/healthz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Liveness: the process is up. */
        get: operations["healthz"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/metrics": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Prometheus metrics, in the text exposition format (docs/api.md#observability).
         * @description A scrape sends `Authorization: Bearer <METRICS_TOKEN>`; without `METRICS_TOKEN` configured
         *     every scrape answers `401 unauthorized` (the metrics describe everyone's traffic).
         */
        get: operations["metrics"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/openapi.json": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The OpenAPI document (this one). */
        get: operations["openapi_document"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/readyz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Ready to serve: the store answers and the pool has a terminal. 503 names the failing check. */
        get: operations["readyz"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        /** @description One account with its settings (the seed's `mt5_accounts` row without credentials). */
        Account: {
            account_name: string;
            account_type: null | components["schemas"]["AccountType"];
            broker_name: string | null;
            /** Format: date-time */
            created_at: string;
            /** Format: uuid */
            id: string;
            /** @description False once deleted (listed only with `include_inactive=true`). */
            is_active: boolean;
            is_default: boolean;
            /** Format: int64 */
            login: number;
            risk_limits: null | components["schemas"]["RiskLimits"];
            server: string;
            /**
             * @description What the terminal reported of `trade_allowed` at the row's last successful login; null
             *     until known. False for an investor (read-only) password: trades answer `read_only_account`.
             */
            trade_allowed: boolean | null;
            /** Format: date-time */
            updated_at: string;
        };
        /** @description What a live account's deals show of costs; what they cannot show is null. */
        AccountCosts: {
            /** Format: double */
            commission: number;
            /**
             * Format: double
             * @description Deals' fees, and the broker's commission and charge deals.
             */
            fee: number;
            /**
             * Format: double
             * @description What the journal's market orders paid against the price they asked for (filled worse is
             *     positive, better negative), in the account currency; orders sent outside the service are
             *     not in it. Null when no such order of the window could be valued.
             */
            slippage: number | null;
            /**
             * Format: double
             * @description Null: deal history records no spread.
             */
            spread: number | null;
            /** Format: double */
            swap: number;
        };
        AccountEnvelope: {
            account: components["schemas"]["Account"];
        };
        /** @description MT5's `account_info()`, live from the terminal, plus the bridge's `account_id`. */
        AccountInfo: {
            /**
             * Format: uuid
             * @description The bridge's id of the account (not an MT5 field).
             */
            account_id: string;
            /** Format: double */
            assets: number;
            /** Format: double */
            balance: number;
            /** Format: double */
            commission_blocked: number;
            company: string;
            /** Format: double */
            credit: number;
            currency: string;
            /** Format: int32 */
            currency_digits: number;
            /** Format: double */
            equity: number;
            fifo_close: boolean;
            /** Format: int32 */
            leverage: number;
            /** Format: double */
            liabilities: number;
            /** Format: int32 */
            limit_orders: number;
            /** Format: int64 */
            login: number;
            /** Format: double */
            margin: number;
            /** Format: double */
            margin_free: number;
            /** Format: double */
            margin_initial: number;
            /** Format: double */
            margin_level: number;
            /** Format: double */
            margin_maintenance: number;
            margin_mode: components["schemas"]["AccountMarginMode"];
            /** Format: double */
            margin_so_call: number;
            margin_so_mode: components["schemas"]["AccountStopoutMode"];
            /** Format: double */
            margin_so_so: number;
            name: string;
            /** Format: double */
            profit: number;
            server: string;
            trade_allowed: boolean;
            trade_expert: boolean;
            trade_mode: components["schemas"]["AccountTradeMode"];
        };
        AccountList: {
            accounts: components["schemas"]["AccountSummary"][];
        };
        /** @description MT5's ACCOUNT_MARGIN_MODE_* constant, lower-case without the prefix; `unknown_<n>` (n: MT5's integer) for a value the service does not know */
        AccountMarginMode: ("retail_netting" | "exchange" | "retail_hedging") | string;
        /**
         * @description The report of a live account's trading over a window, from its deals: the backtest report's
         *     numbers where deals give them.
         */
        AccountReport: {
            /** Format: double */
            average_loss: number;
            /** Format: double */
            average_win: number;
            balance_operations: components["schemas"]["BalanceOperations"];
            costs: components["schemas"]["AccountCosts"];
            /** Format: double */
            expected_payoff: number | null;
            /**
             * Format: double
             * @description The balance after the window's last deal.
             */
            final_balance: number;
            /** Format: double */
            gross_loss: number;
            /** Format: double */
            gross_profit: number;
            /**
             * Format: double
             * @description The balance before the window's first deal.
             */
            initial_balance: number;
            /** Format: double */
            largest_loss: number;
            /** Format: double */
            largest_win: number;
            /** Format: int64 */
            longest_losing_streak: number;
            /** Format: int64 */
            longest_winning_streak: number;
            /**
             * Format: double
             * @description Of the balance moved by trades alone, from the initial balance.
             */
            max_drawdown_balance: number;
            /** Format: double */
            max_drawdown_balance_pct: number;
            /**
             * Format: double
             * @description Null: deal history has no equity.
             */
            max_drawdown_equity: number | null;
            /** Format: double */
            max_drawdown_equity_pct: number | null;
            /**
             * Format: double
             * @description The trades' results (profit, swap, commission, fee); balance operations are not P&L.
             */
            net_profit: number;
            /** Format: double */
            profit_factor: number | null;
            /**
             * Format: double
             * @description Net profit over the balance drawdown (the equity's is unknown); null without one.
             */
            recovery_factor: number | null;
            /** Format: double */
            sharpe_ratio: number | null;
            /** Format: int64 */
            total_trades: number;
            /** @description The fields the deals cannot give, with why. */
            unavailable: components["schemas"]["Unavailable"][];
            /** Format: double */
            win_rate: number | null;
        };
        /** @description The account's report over a window. */
        AccountReportView: {
            /** Format: uuid */
            account_id: string;
            /** Format: date-time */
            from: string;
            /** @description As a string: magic numbers may pass JSON's safe integers. */
            magic: string | null;
            report: components["schemas"]["AccountReport"];
            symbol: string | null;
            /** Format: date-time */
            to: string;
        };
        /** @description MT5's ACCOUNT_STOPOUT_MODE_* constant, lower-case without the prefix; `unknown_<n>` (n: MT5's integer) for a value the service does not know */
        AccountStopoutMode: ("percent" | "money") | string;
        /** @description An account as listed (the seed's `mt5_accounts` row without credentials). */
        AccountSummary: {
            account_name: string;
            account_type: null | components["schemas"]["AccountType"];
            broker_name: string | null;
            /** Format: date-time */
            created_at: string;
            /** Format: uuid */
            id: string;
            /** @description False once deleted (listed only with `include_inactive=true`). */
            is_active: boolean;
            is_default: boolean;
            /** Format: int64 */
            login: number;
            server: string;
            /**
             * @description What the terminal reported of `trade_allowed` at the row's last successful login; null
             *     until known. False for an investor (read-only) password: trades answer `read_only_account`.
             */
            trade_allowed: boolean | null;
        };
        /** @description MT5's ACCOUNT_TRADE_MODE_* constant, lower-case without the prefix; `unknown_<n>` (n: MT5's integer) for a value the service does not know */
        AccountTradeMode: ("demo" | "contest" | "real") | string;
        /**
         * @description `demo` or `live`: the seed's account types (a real MT5 account is `live`, demo and contest
         *     `demo`).
         * @enum {string}
         */
        AccountType: "demo" | "live";
        /** @description `PUT /accounts/{account_id}`'s answer. */
        AccountUpdated: {
            account: components["schemas"]["Account"];
            success: components["schemas"]["True"];
        };
        /** @description A saved configuration of a built-in strategy. */
        Algorithm: {
            /** Format: date-time */
            created_at: string;
            /** Format: uuid */
            id: string;
            /** @description The built-in strategy it configures. */
            kind: string;
            name: string;
            parameters: {
                [key: string]: unknown;
            };
            /** Format: date-time */
            updated_at: string;
        };
        AlgorithmEnvelope: {
            algorithm: components["schemas"]["Algorithm"];
        };
        AlgorithmList: {
            /** @description Every built-in strategy, in every page. */
            builtin: components["schemas"]["BuiltinAlgorithm"][];
            /** @description The `cursor` of the next page of `saved`; null on the last. */
            next_cursor: string | null;
            /** @description A page of the user's saved configurations, oldest first. */
            saved: components["schemas"]["Algorithm"][];
        };
        /** @description One execution of an algorithm. */
        AlgorithmRun: {
            /** Format: uuid */
            account_id: string;
            /** @description The built-in strategy that ran. */
            algorithm: string;
            /** @description As requested: a built-in name or a configuration's id. */
            algorithm_id: string;
            /**
             * Format: date-time
             * @description A bot's pass: the open time of the closed bar it evaluated (UTC).
             */
            bar_time: string | null;
            /**
             * Format: uuid
             * @description The bot whose pass this was; null for `/algorithms/execute`.
             */
            bot_id: string | null;
            dry_run: boolean;
            error: string | null;
            /** Format: date-time */
            finished_at: string | null;
            /** Format: uuid */
            id: string;
            /** @description The parameters the run used. */
            parameters: {
                [key: string]: unknown;
            };
            skipped: components["schemas"]["SkippedIntent"][];
            /** Format: date-time */
            started_at: string;
            status: components["schemas"]["RunStatus"];
            /** @description As the run stored them. */
            trades: components["schemas"]["AlgorithmTrade"][];
            trades_executed: number;
        };
        AlgorithmSaved: {
            algorithm: components["schemas"]["Algorithm"];
            success: components["schemas"]["True"];
        };
        /** @description A trade a run placed (or, dry, would have placed): an entry, or an exit closing a position. */
        AlgorithmTrade: components["schemas"]["EntryTrade"] | components["schemas"]["ExitTrade"];
        /**
         * @description An event of the user's accounts: `account_connected`, `connect_failed`, `password_changed`,
         *     `password_change_failed`, `account_switched`, `account_deleted`, `credentials_invalid`,
         *     `login_guessing_blocked` (others' guesses at the account's login are being refused).
         */
        AuditEntry: {
            /**
             * Format: uuid
             * @description The account it concerns; null when there is none (a connect MT5 refused).
             */
            account_id: string | null;
            /**
             * Format: date-time
             * @description RFC 3339, UTC.
             */
            created_at: string;
            /** @description Non-secret facts (login, server, from/to of a switch, MT5's error code). */
            details: {
                [key: string]: unknown;
            };
            event: string;
            /** Format: uuid */
            id: string;
        };
        AuditPage: {
            entries: components["schemas"]["AuditEntry"][];
        };
        /** @description Why a backtest failed. */
        BacktestError: {
            /** @description A stable error code (docs/errors.md), e.g. `symbol_not_found`. */
            code: string;
            message: string;
        };
        /**
         * @description A model of prices inside a bar.
         * @enum {string}
         */
        BacktestModel: "open_prices" | "m1_ohlc";
        /**
         * @description Backtests, newest first, each with its best result only (`results` holds at most one; `GET
         *     /api/v1/backtests/{id}` has every combination); `next_cursor` is null on the last page.
         */
        BacktestPage: {
            backtests: components["schemas"]["BacktestView"][];
            next_cursor: string | null;
        };
        /** @description One combination's outcome, ranked. */
        BacktestResult: {
            /** Format: int32 */
            combination: number;
            /**
             * Format: int64
             * @description Chunks of history (whole months of bars) the run used.
             */
            history_chunks: number;
            /**
             * Format: int64
             * @description How many of them were read from a terminal; the others came from the bar cache.
             */
            history_chunks_from_terminal: number;
            /**
             * Format: date-time
             * @description The first decision bar's open time: later than `from` when the history is shorter.
             */
            history_start: string | null;
            /**
             * @description A bot's backtest (`bot_id`): its live trading over the window (`report`, as
             *     `GET /api/v1/accounts/{id}/report?magic=` gives it) and `difference`, each figure both
             *     reports have, the backtest's less the live one. Null otherwise.
             */
            live: {
                [key: string]: unknown;
            } | null;
            parameters: {
                [key: string]: unknown;
            };
            /**
             * Format: int32
             * @description 1 for the best by `rank_by`.
             */
            rank: number;
            report: components["schemas"]["Report"];
            /**
             * Format: int64
             * @description Bars in which both the SL and the TP of a position lay (the bar's path decided).
             */
            sl_and_tp_in_one_bar: number;
            /** @description Symbols whose swap mode the engine does not model (charged no swap). */
            unmodelled_swaps: string[];
        };
        /**
         * @description How fills pay the spread.
         * @enum {string}
         */
        BacktestSpread: "bar" | "fixed" | "larger";
        /**
         * @description A backtest's status.
         * @enum {string}
         */
        BacktestStatus: "queued" | "running" | "done" | "failed" | "canceled";
        /** @description A closed trade of a backtest. */
        BacktestTrade: {
            /** Format: double */
            commission: number;
            /** Format: double */
            price_close: number;
            /** Format: double */
            price_open: number;
            /** Format: double */
            profit: number;
            /** Format: double */
            sl: number;
            /** Format: double */
            swap: number;
            /**
             * Format: date-time
             * @description Entry time.
             */
            time: string;
            /** Format: date-time */
            time_close: string;
            /** Format: double */
            tp: number;
            type: components["schemas"]["PositionType"];
            /** Format: double */
            volume: number;
        };
        /** @description A page of a combination's trades, oldest first. */
        BacktestTradePage: {
            /** Format: int32 */
            combination: number;
            next_cursor: string | null;
            trades: components["schemas"]["BacktestTrade"][];
        };
        /** @description A backtest. */
        BacktestView: {
            /** Format: uuid */
            account_id: string;
            /**
             * Format: int32
             * @description 1 for a plain backtest; the grid's size for a sweep.
             */
            combinations: number;
            /** Format: date-time */
            created_at: string;
            error: null | components["schemas"]["BacktestError"];
            /** Format: date-time */
            finished_at: string | null;
            /** Format: date-time */
            history_start: string | null;
            /** Format: uuid */
            id: string;
            /**
             * Format: double
             * @description Units done over all, 0 to 1.
             */
            progress: number;
            rank_by: components["schemas"]["RankMetric"];
            report: null | components["schemas"]["Report"];
            /** @description The normalized request; once running, with the account's terms and server offset. */
            request: {
                [key: string]: unknown;
            };
            /** @description Every finished combination, best first. */
            results: components["schemas"]["BacktestResult"][];
            /** Format: date-time */
            started_at: string | null;
            status: components["schemas"]["BacktestStatus"];
        };
        /** @description Money moved in and out of the account that is not trading: excluded from P&L. */
        BalanceOperations: {
            /**
             * Format: double
             * @description Credit, bonus and correction deals, net.
             */
            credit: number;
            /**
             * Format: double
             * @description Balance deals with a positive amount.
             */
            deposits: number;
            /**
             * Format: double
             * @description Balance deals with a negative amount (as a positive sum).
             */
            withdrawals: number;
        };
        /** @description Bots, oldest first; `next_cursor` is null on the last page. */
        BotPage: {
            bots: components["schemas"]["BotView"][];
            next_cursor: string | null;
        };
        /**
         * @description A bot's state.
         * @enum {string}
         */
        BotState: "running" | "paused" | "stopped" | "faulted";
        /** @description A bot: its configuration (copied when it was created), state and counters. */
        BotView: {
            /** Format: uuid */
            account_id: string;
            /** @description The built-in strategy it runs. */
            algorithm: string;
            /** @description As given: a built-in strategy's name or a saved configuration's id. */
            algorithm_id: string;
            confirm_live: boolean;
            /** Format: date-time */
            created_at: string;
            /** @description A paper bot: plans each bar and records what it would have done, sends nothing. */
            dry_run: boolean;
            /** Format: uuid */
            id: string;
            /**
             * Format: date-time
             * @description Open time (UTC) of the last closed bar evaluated.
             */
            last_bar_time: string | null;
            last_run: null | components["schemas"]["AlgorithmRun"];
            last_skip_reason: string | null;
            /**
             * Format: int64
             * @description The magic number its orders carry, unique per account, in [2000000000, 2^31).
             */
            magic: number;
            /**
             * Format: int64
             * @description Bars that closed while the bot could not run (downtime) and were not evaluated.
             */
            missed_bars: number;
            name: string;
            /** @description Whether the account keeps one position per symbol (read from MT5 at creation). */
            netting: boolean;
            /**
             * Format: date-time
             * @description When (UTC) the bar now forming is expected to close: the next pass. Null unless running.
             */
            next_bar_time: string | null;
            /** @description After a stop whose closes failed: the positions left open, with why. */
            open_positions: {
                [key: string]: unknown;
            }[] | null;
            /** @description The parameters it runs with (a configuration's, copied, with the request's over them). */
            parameters: {
                [key: string]: unknown;
            };
            /**
             * Format: int64
             * @description Bars evaluated (claimed), skipped ones included.
             */
            passes: number;
            /**
             * Format: int32
             * @description Consecutive bars whose orders were all refused (10 fault the bot).
             */
            refused_bars: number;
            /**
             * Format: int64
             * @description Bars skipped, the last one's reason in `last_skip_reason`.
             */
            skipped_bars: number;
            state: components["schemas"]["BotState"];
            /**
             * @description Why it is in its state (`user`, `kill_switch`, `daily_loss_reached`, `account_deleted`,
             *     `live_confirmation_required`, `invalid_configuration`, an error code, …).
             */
            state_reason: string | null;
            symbol: string;
            timeframe: string;
            /**
             * Format: int64
             * @description Orders placed (or, paper, planned).
             */
            trades: number;
            /** Format: date-time */
            updated_at: string;
        };
        /** @description A built-in strategy. */
        BuiltinAlgorithm: {
            description: string;
            name: string;
            /** @description The JSON Schema of its parameters. */
            parameters: {
                [key: string]: unknown;
            };
        };
        /** @enum {string} */
        CheckStatus: "ok" | "failed";
        /** @description POST /positions/{ticket}/close; the body is optional. */
        ClosePositionRequest: {
            comment?: string;
            /**
             * Format: int64
             * @description Points (default 20).
             */
            deviation?: number;
            /** @description Default: as for `POST /orders`. */
            type_filling?: components["schemas"]["OrderFillingInput"];
            /**
             * Format: double
             * @description Lots to close (default: all).
             */
            volume?: number;
        };
        /** @description The verified account, live from the terminal. */
        ConnectedAccount: {
            /** Format: double */
            balance: number;
            /** Format: double */
            equity: number;
            /** Format: int64 */
            login: number;
            server: string;
            /** @description `account_info().trade_allowed` of this login: false for an investor (read-only) password. */
            trade_allowed: boolean;
        };
        /** @description POST /accounts/connect (the seed's body). */
        ConnectRequest: {
            account_name: string;
            /** @description Must agree with the terminal (`422 account_type_mismatch`); default: the terminal's. */
            account_type?: components["schemas"]["AccountType"];
            /** @description Default: the broker's company name as the terminal reports it. */
            broker_name?: string;
            login: components["schemas"]["LoginInput"];
            /** @description Never returned, never logged; stored encrypted. */
            password: string;
            risk_limits?: null | components["schemas"]["RiskLimits"];
            /** @description Exactly as MT5 names it (case-sensitive). */
            server: string;
            /** @description Default false; the first account becomes the default anyway. */
            set_as_default?: boolean;
        };
        ConnectResponse: {
            account: components["schemas"]["ConnectedAccount"];
            /** Format: uuid */
            account_id: string;
            success: components["schemas"]["True"];
        };
        /** @description Costs broken down, each a positive amount paid. */
        Costs: {
            /** Format: double */
            commission: number;
            /** Format: double */
            slippage: number;
            /** Format: double */
            spread: number;
            /** Format: double */
            swap: number;
        };
        /** @description A configuration of a built-in strategy: its `kind` and the parameters that strategy takes */
        CreateAlgorithmRequest: {
            /** @enum {string} */
            kind: "ma_crossover";
            /** @description Unique among the user's configurations */
            name: string;
            parameters: {
                /**
                 * @description Bars of the Wilder ATR that sets the stop-loss distance.
                 * @default 14
                 */
                atr_period?: number;
                /**
                 * @description Stop loss at this many ATRs from the last close.
                 * @default 2
                 */
                atr_sl_multiplier?: number;
                /**
                 * @description Bars of the fast simple moving average.
                 * @default 10
                 */
                fast_period?: number;
                /**
                 * @description Most positions this strategy holds on the symbol at once.
                 * @default 1
                 */
                max_positions?: number;
                /**
                 * @description Fraction of equity lost if the stop loss is hit; sizes each entry.
                 * @default 0.01
                 */
                risk_per_trade?: number;
                /**
                 * @description Bars of the slow simple moving average; must be greater than fast_period.
                 * @default 30
                 */
                slow_period?: number;
                /** @description The symbol to trade, as the broker names it (e.g. EURUSD). */
                symbol: string;
                /**
                 * @description Bar period the strategy reads (case-insensitive).
                 * @default H1
                 * @enum {string}
                 */
                timeframe?: "M1" | "M2" | "M3" | "M4" | "M5" | "M6" | "M10" | "M12" | "M15" | "M20" | "M30" | "H1" | "H2" | "H3" | "H4" | "H6" | "H8" | "H12" | "D1" | "W1" | "MN1";
                /** @description Take profit at this multiple of the stop-loss distance; null = no take profit. */
                tp_rr?: number | null;
            };
        } | {
            /** @enum {string} */
            kind: "rsi_reversion";
            /** @description Unique among the user's configurations */
            name: string;
            parameters: {
                /**
                 * @description Bars of the Wilder ATR that sets the stop-loss distance.
                 * @default 14
                 */
                atr_period?: number;
                /**
                 * @description Stop loss at this many ATRs from the last close.
                 * @default 2
                 */
                atr_sl_multiplier?: number;
                /**
                 * @description Most positions this strategy holds on the symbol at once.
                 * @default 1
                 */
                max_positions?: number;
                /**
                 * @description Sell when the RSI crosses down through this level; must be above oversold.
                 * @default 70
                 */
                overbought?: number;
                /**
                 * @description Buy when the RSI crosses up through this level; must be below overbought.
                 * @default 30
                 */
                oversold?: number;
                /**
                 * @description Fraction of equity lost if the stop loss is hit; sizes each entry.
                 * @default 0.01
                 */
                risk_per_trade?: number;
                /**
                 * @description Bars of the Wilder RSI.
                 * @default 14
                 */
                rsi_period?: number;
                /** @description The symbol to trade, as the broker names it (e.g. EURUSD). */
                symbol: string;
                /**
                 * @description Bar period the strategy reads (case-insensitive).
                 * @default H1
                 * @enum {string}
                 */
                timeframe?: "M1" | "M2" | "M3" | "M4" | "M5" | "M6" | "M10" | "M12" | "M15" | "M20" | "M30" | "H1" | "H2" | "H3" | "H4" | "H6" | "H8" | "H12" | "D1" | "W1" | "MN1";
                /** @description Take profit at this multiple of the stop-loss distance; null = no take profit. */
                tp_rr?: number | null;
            };
        } | {
            /** @enum {string} */
            kind: "donchian_breakout";
            /** @description Unique among the user's configurations */
            name: string;
            parameters: {
                /**
                 * @description Bars of the Wilder ATR that sets the stop-loss distance.
                 * @default 14
                 */
                atr_period?: number;
                /**
                 * @description Stop loss at this many ATRs from the last close.
                 * @default 2
                 */
                atr_sl_multiplier?: number;
                /**
                 * @description Bars of the Donchian channel whose break opens a position.
                 * @default 20
                 */
                channel_period?: number;
                /**
                 * @description Bars of the opposite channel whose break closes a position; must be less than channel_period.
                 * @default 10
                 */
                exit_period?: number;
                /**
                 * @description Most positions this strategy holds on the symbol at once.
                 * @default 1
                 */
                max_positions?: number;
                /**
                 * @description Fraction of equity lost if the stop loss is hit; sizes each entry.
                 * @default 0.01
                 */
                risk_per_trade?: number;
                /** @description The symbol to trade, as the broker names it (e.g. EURUSD). */
                symbol: string;
                /**
                 * @description Bar period the strategy reads (case-insensitive).
                 * @default H1
                 * @enum {string}
                 */
                timeframe?: "M1" | "M2" | "M3" | "M4" | "M5" | "M6" | "M10" | "M12" | "M15" | "M20" | "M30" | "H1" | "H2" | "H3" | "H4" | "H6" | "H8" | "H12" | "D1" | "W1" | "MN1";
                /** @description Take profit at this multiple of the stop-loss distance; null = no take profit. */
                tp_rr?: number | null;
            };
        };
        /** @description POST /backtests. */
        CreateBacktestRequest: {
            /**
             * Format: uuid
             * @description One of the user's accounts: its broker's history and its terms. Required unless `bot_id`.
             */
            account_id?: string | null;
            /**
             * @description A built-in strategy's name, or a saved configuration's id (its kind and parameters are
             *     copied now). Required unless `bot_id`.
             */
            algorithm_id?: string | null;
            /**
             * Format: uuid
             * @description Backtest a bot: its account, strategy and parameters over its live period (`from`, `to`
             *     default to its creation and now), under its magic number; each result's `live` compares
             *     the backtest with the bot's live trades. Not with `account_id`, `algorithm_id`,
             *     `parameters` or `sweep`.
             */
            bot_id?: string | null;
            /**
             * Format: double
             * @description Per lot per side, in the account currency (default 0).
             */
            commission_per_lot?: number | null;
            /** @description The window's start (RFC 3339 or epoch seconds). Required unless `bot_id`. */
            from?: components["schemas"]["TimeInput"];
            /**
             * Format: double
             * @description Default: the account's balance when the backtest starts.
             */
            initial_deposit?: number | null;
            /** @description Default `open_prices`. */
            model?: components["schemas"]["BacktestModel"];
            /**
             * @description The strategy's parameters (overriding a configuration's), validated as
             *     `/algorithms/execute` validates them.
             */
            parameters?: {
                [key: string]: unknown;
            };
            /** @description The metric a sweep's combinations are ranked by (default `net_profit`). */
            rank_by?: components["schemas"]["RankMetric"];
            /**
             * Format: int32
             * @description Adverse points on market fills and stops (default 0).
             */
            slippage_points?: number | null;
            /** @description Default `bar` (the bar's recorded spread, MT5's smallest of the bar). */
            spread?: components["schemas"]["BacktestSpread"];
            /**
             * Format: int32
             * @description Points for `fixed` and `larger` (default 0).
             */
            spread_points?: number | null;
            /** @description A sweep: parameter name → the values it takes (arrays; at most 256 combinations in all). */
            sweep?: {
                [key: string]: unknown;
            };
            /** @description The window's end; after now is read as now. Required unless `bot_id` (then: now). */
            to?: components["schemas"]["TimeInput"];
        };
        /** @description POST /bots. */
        CreateBotRequest: {
            /**
             * Format: uuid
             * @description One of the user's accounts.
             */
            account_id: string;
            /**
             * @description A built-in strategy's name, or a saved configuration's id (its kind and parameters are
             *     copied now: later edits of the configuration do not change the bot).
             */
            algorithm_id: string;
            /** @description Required (true) for a bot that trades a live account. */
            confirm_live?: boolean | null;
            /** @description A paper bot: plans each bar and records it, sends nothing, needs no confirmation. */
            dry_run?: boolean | null;
            name: string;
            /**
             * @description The strategy's parameters (over a configuration's), validated as `/algorithms/execute`
             *     validates them.
             */
            parameters?: {
                [key: string]: unknown;
            };
        };
        /** @description The current account, with live balance and equity. */
        CurrentAccount: {
            /** Format: double */
            balance: number;
            /** Format: double */
            equity: number;
            /** Format: uuid */
            id: string;
            /** Format: int64 */
            login: number;
            server: string;
        };
        CurrentAccountResponse: {
            account: components["schemas"]["CurrentAccount"];
        };
        /** @description MT5's DAY_OF_WEEK_* constant, lower-case without the prefix; `unknown_<n>` (n: MT5's integer) for a value the service does not know */
        DayOfWeek: ("sunday" | "monday" | "tuesday" | "wednesday" | "thursday" | "friday" | "saturday") | string;
        /** @description MT5's DEAL_ENTRY_* constant, lower-case without the prefix; `unknown_<n>` (n: MT5's integer) for a value the service does not know */
        DealEntry: ("in" | "out" | "inout" | "out_by") | string;
        /** @description A page of deals; `next_cursor` is null on the last page. */
        DealPage: {
            deals: components["schemas"]["TradeDeal"][];
            /**
             * @description Opaque: pass it as `cursor` to the same route, for the same account, for the next page of
             *     the same window.
             */
            next_cursor: string | null;
        };
        /** @description MT5's DEAL_REASON_* constant, lower-case without the prefix; `unknown_<n>` (n: MT5's integer) for a value the service does not know */
        DealReason: ("client" | "mobile" | "web" | "expert" | "sl" | "tp" | "so" | "rollover" | "vmargin" | "split") | string;
        /** @description MT5's DEAL_TYPE_* constant, lower-case without the prefix; `unknown_<n>` (n: MT5's integer) for a value the service does not know */
        DealType: ("buy" | "sell" | "balance" | "credit" | "charge" | "correction" | "bonus" | "commission" | "commission_daily" | "commission_monthly" | "commission_agent_daily" | "commission_agent_monthly" | "interest" | "buy_canceled" | "sell_canceled" | "dividend" | "dividend_franked" | "tax") | string;
        /** @description An entry a run placed, with its levels. */
        EntryTrade: {
            /** Format: double */
            price: number;
            /** Format: double */
            sl: number;
            symbol: string;
            /**
             * Format: int64
             * @description The order's ticket; null in a dry run.
             */
            ticket: number | null;
            /**
             * Format: double
             * @description Null when the strategy sets none.
             */
            tp: number | null;
            type: components["schemas"]["PositionType"];
            /** Format: double */
            volume: number;
        };
        EquityCurve: {
            /** Format: int32 */
            combination: number;
            points: components["schemas"]["EquityPoint"][];
        };
        /** @description A bucket of the balance and equity curve. */
        EquityPoint: {
            /** Format: double */
            balance: number;
            /** Format: double */
            equity: number;
            /** Format: double */
            equity_max: number;
            /** Format: double */
            equity_min: number;
            /**
             * Format: date-time
             * @description The bucket's start.
             */
            time: string;
        };
        /** @description Every error response: `{"success": false, "error": {"code", "message", "details"}}`. */
        ErrorBody: {
            error: components["schemas"]["ErrorDetail"];
            /** @enum {boolean} */
            success: false;
        };
        /**
         * @description A stable error code; see docs/errors.md
         * @enum {string}
         */
        ErrorCode: "invalid_json" | "unauthorized" | "anonymous_not_allowed" | "mfa_required" | "account_not_found" | "no_account" | "read_only_account" | "trading_disabled" | "symbol_not_found" | "position_not_found" | "order_not_found" | "algorithm_not_found" | "run_not_found" | "bot_not_found" | "backtest_not_found" | "not_found" | "method_not_allowed" | "upgrade_required" | "account_exists" | "algorithm_exists" | "bot_symbol_taken" | "bot_limit_reached" | "bot_state_conflict" | "algorithm_limit_reached" | "account_credentials_invalid" | "request_in_progress" | "order_outcome_unknown" | "journal_entry_not_found" | "payload_too_large" | "validation_failed" | "invalid_combination" | "mt5_login_failed" | "account_type_mismatch" | "trade_rejected" | "risk_limit_exceeded" | "live_confirmation_required" | "idempotency_key_reused" | "rate_limited" | "internal_error" | "terminal_unavailable" | "terminal_trading_disabled" | "database_unavailable" | "journal_unavailable" | "redis_unavailable" | "too_many_connections" | "terminal_timeout";
        ErrorDetail: {
            code: components["schemas"]["ErrorCode"];
            /**
             * @description Per code (docs/errors.md): e.g. `fields` for `validation_failed`, `retcode`, `retcode_name`
             *     and `comment` for `trade_rejected`; null when the code has none.
             */
            details: {
                [key: string]: unknown;
            } | null;
            /** @description For people; may change. */
            message: string;
        };
        /** @description A built-in strategy by name with its parameters, or a saved configuration by id */
        ExecuteRequest: {
            /**
             * Format: uuid
             * @description One of the user's accounts
             */
            account_id: string;
            /** @enum {string} */
            algorithm_id: "ma_crossover";
            /** @description Required on a `live` account */
            confirm_live?: boolean;
            /** @description Plan the trades and send nothing */
            dry_run?: boolean;
            parameters: {
                /**
                 * @description Bars of the Wilder ATR that sets the stop-loss distance.
                 * @default 14
                 */
                atr_period?: number;
                /**
                 * @description Stop loss at this many ATRs from the last close.
                 * @default 2
                 */
                atr_sl_multiplier?: number;
                /**
                 * @description Bars of the fast simple moving average.
                 * @default 10
                 */
                fast_period?: number;
                /**
                 * @description Most positions this strategy holds on the symbol at once.
                 * @default 1
                 */
                max_positions?: number;
                /**
                 * @description Fraction of equity lost if the stop loss is hit; sizes each entry.
                 * @default 0.01
                 */
                risk_per_trade?: number;
                /**
                 * @description Bars of the slow simple moving average; must be greater than fast_period.
                 * @default 30
                 */
                slow_period?: number;
                /** @description The symbol to trade, as the broker names it (e.g. EURUSD). */
                symbol: string;
                /**
                 * @description Bar period the strategy reads (case-insensitive).
                 * @default H1
                 * @enum {string}
                 */
                timeframe?: "M1" | "M2" | "M3" | "M4" | "M5" | "M6" | "M10" | "M12" | "M15" | "M20" | "M30" | "H1" | "H2" | "H3" | "H4" | "H6" | "H8" | "H12" | "D1" | "W1" | "MN1";
                /** @description Take profit at this multiple of the stop-loss distance; null = no take profit. */
                tp_rr?: number | null;
            };
        } | {
            /**
             * Format: uuid
             * @description One of the user's accounts
             */
            account_id: string;
            /** @enum {string} */
            algorithm_id: "rsi_reversion";
            /** @description Required on a `live` account */
            confirm_live?: boolean;
            /** @description Plan the trades and send nothing */
            dry_run?: boolean;
            parameters: {
                /**
                 * @description Bars of the Wilder ATR that sets the stop-loss distance.
                 * @default 14
                 */
                atr_period?: number;
                /**
                 * @description Stop loss at this many ATRs from the last close.
                 * @default 2
                 */
                atr_sl_multiplier?: number;
                /**
                 * @description Most positions this strategy holds on the symbol at once.
                 * @default 1
                 */
                max_positions?: number;
                /**
                 * @description Sell when the RSI crosses down through this level; must be above oversold.
                 * @default 70
                 */
                overbought?: number;
                /**
                 * @description Buy when the RSI crosses up through this level; must be below overbought.
                 * @default 30
                 */
                oversold?: number;
                /**
                 * @description Fraction of equity lost if the stop loss is hit; sizes each entry.
                 * @default 0.01
                 */
                risk_per_trade?: number;
                /**
                 * @description Bars of the Wilder RSI.
                 * @default 14
                 */
                rsi_period?: number;
                /** @description The symbol to trade, as the broker names it (e.g. EURUSD). */
                symbol: string;
                /**
                 * @description Bar period the strategy reads (case-insensitive).
                 * @default H1
                 * @enum {string}
                 */
                timeframe?: "M1" | "M2" | "M3" | "M4" | "M5" | "M6" | "M10" | "M12" | "M15" | "M20" | "M30" | "H1" | "H2" | "H3" | "H4" | "H6" | "H8" | "H12" | "D1" | "W1" | "MN1";
                /** @description Take profit at this multiple of the stop-loss distance; null = no take profit. */
                tp_rr?: number | null;
            };
        } | {
            /**
             * Format: uuid
             * @description One of the user's accounts
             */
            account_id: string;
            /** @enum {string} */
            algorithm_id: "donchian_breakout";
            /** @description Required on a `live` account */
            confirm_live?: boolean;
            /** @description Plan the trades and send nothing */
            dry_run?: boolean;
            parameters: {
                /**
                 * @description Bars of the Wilder ATR that sets the stop-loss distance.
                 * @default 14
                 */
                atr_period?: number;
                /**
                 * @description Stop loss at this many ATRs from the last close.
                 * @default 2
                 */
                atr_sl_multiplier?: number;
                /**
                 * @description Bars of the Donchian channel whose break opens a position.
                 * @default 20
                 */
                channel_period?: number;
                /**
                 * @description Bars of the opposite channel whose break closes a position; must be less than channel_period.
                 * @default 10
                 */
                exit_period?: number;
                /**
                 * @description Most positions this strategy holds on the symbol at once.
                 * @default 1
                 */
                max_positions?: number;
                /**
                 * @description Fraction of equity lost if the stop loss is hit; sizes each entry.
                 * @default 0.01
                 */
                risk_per_trade?: number;
                /** @description The symbol to trade, as the broker names it (e.g. EURUSD). */
                symbol: string;
                /**
                 * @description Bar period the strategy reads (case-insensitive).
                 * @default H1
                 * @enum {string}
                 */
                timeframe?: "M1" | "M2" | "M3" | "M4" | "M5" | "M6" | "M10" | "M12" | "M15" | "M20" | "M30" | "H1" | "H2" | "H3" | "H4" | "H6" | "H8" | "H12" | "D1" | "W1" | "MN1";
                /** @description Take profit at this multiple of the stop-loss distance; null = no take profit. */
                tp_rr?: number | null;
            };
        } | {
            /**
             * Format: uuid
             * @description One of the user's accounts
             */
            account_id: string;
            /**
             * Format: uuid
             * @description A saved configuration's id
             */
            algorithm_id: string;
            /** @description Required on a `live` account */
            confirm_live?: boolean;
            /** @description Plan the trades and send nothing */
            dry_run?: boolean;
            /** @description Overrides of the saved configuration's parameters (its strategy's, `GET /algorithms`) */
            parameters?: {
                /**
                 * @description Bars of the Wilder ATR that sets the stop-loss distance.
                 * @default 14
                 */
                atr_period?: number;
                /**
                 * @description Stop loss at this many ATRs from the last close.
                 * @default 2
                 */
                atr_sl_multiplier?: number;
                /**
                 * @description Bars of the Donchian channel whose break opens a position.
                 * @default 20
                 */
                channel_period?: number;
                /**
                 * @description Bars of the opposite channel whose break closes a position; must be less than channel_period.
                 * @default 10
                 */
                exit_period?: number;
                /**
                 * @description Bars of the fast simple moving average.
                 * @default 10
                 */
                fast_period?: number;
                /**
                 * @description Most positions this strategy holds on the symbol at once.
                 * @default 1
                 */
                max_positions?: number;
                /**
                 * @description Sell when the RSI crosses down through this level; must be above oversold.
                 * @default 70
                 */
                overbought?: number;
                /**
                 * @description Buy when the RSI crosses up through this level; must be below overbought.
                 * @default 30
                 */
                oversold?: number;
                /**
                 * @description Fraction of equity lost if the stop loss is hit; sizes each entry.
                 * @default 0.01
                 */
                risk_per_trade?: number;
                /**
                 * @description Bars of the Wilder RSI.
                 * @default 14
                 */
                rsi_period?: number;
                /**
                 * @description Bars of the slow simple moving average; must be greater than fast_period.
                 * @default 30
                 */
                slow_period?: number;
                /** @description The symbol to trade, as the broker names it (e.g. EURUSD). */
                symbol?: string;
                /**
                 * @description Bar period the strategy reads (case-insensitive).
                 * @default H1
                 * @enum {string}
                 */
                timeframe?: "M1" | "M2" | "M3" | "M4" | "M5" | "M6" | "M10" | "M12" | "M15" | "M20" | "M30" | "H1" | "H2" | "H3" | "H4" | "H6" | "H8" | "H12" | "D1" | "W1" | "MN1";
                /** @description Take profit at this multiple of the stop-loss distance; null = no take profit. */
                tp_rr?: number | null;
            };
        };
        /** @description `POST /algorithms/execute`'s answer. */
        ExecuteResponse: {
            dry_run: boolean;
            /** Format: uuid */
            run_id: string;
            skipped: components["schemas"]["SkippedIntent"][];
            success: components["schemas"]["True"];
            trades: components["schemas"]["AlgorithmTrade"][];
            /** @description The length of `trades`. */
            trades_executed: number;
        };
        /** @description An exit a run placed: the order closing `position`. */
        ExitTrade: {
            /**
             * Format: int64
             * @description The position closed.
             */
            position: number;
            /** Format: double */
            price: number;
            symbol: string;
            /**
             * Format: int64
             * @description The closing order's ticket; null in a dry run.
             */
            ticket: number | null;
            type: components["schemas"]["PositionType"];
            /** Format: double */
            volume: number;
        };
        /** @description `GET /healthz`'s answer. */
        Health: {
            status: components["schemas"]["HealthStatus"];
        };
        /** @enum {string} */
        HealthStatus: "ok";
        /** @description A page of history orders; `next_cursor` is null on the last page. */
        HistoryOrderPage: {
            /**
             * @description Opaque: pass it as `cursor` to the same route, for the same account, for the next page of
             *     the same window.
             */
            next_cursor: string | null;
            orders: components["schemas"]["TradeOrder"][];
        };
        /**
         * @description What the entry does.
         * @enum {string}
         */
        JournalAction: "place" | "modify_order" | "cancel_order" | "modify_position" | "close_position";
        /** @description One order intent, journaled before it was sent. */
        JournalEntry: {
            /** Format: uuid */
            account_id: string;
            action: components["schemas"]["JournalAction"];
            algorithm_id: string | null;
            /** @description Carried at the start of the MT5 order comment. */
            client_id: string;
            /** Format: date-time */
            completed_at: string | null;
            /** Format: date-time */
            created_at: string;
            /** Format: int64 */
            deal: number | null;
            error: string | null;
            /** Format: uuid */
            id: string;
            idempotency_key: string | null;
            /** Format: int64 */
            order: number | null;
            /** Format: double */
            price: number | null;
            /** @description The request as the client sent it, normalized. */
            request: {
                [key: string]: unknown;
            };
            /** Format: int64 */
            retcode: number | null;
            /** Format: uuid */
            run_id: string | null;
            source: components["schemas"]["JournalSource"];
            status: components["schemas"]["JournalStatus"];
            /** Format: double */
            volume: number | null;
        };
        /** @description One journal entry. */
        JournalEntryEnvelope: {
            entry: components["schemas"]["JournalEntry"];
        };
        /** @description The user's journal, newest first; `next_cursor` is null on the last page. */
        JournalPage: {
            entries: components["schemas"]["JournalEntry"][];
            next_cursor: string | null;
        };
        /**
         * @description `api` or `algorithm`.
         * @enum {string}
         */
        JournalSource: "api" | "algorithm";
        /**
         * @description `pending` while it is being sent; `unknown` when it reached the terminal and its answer was
         *     lost (until the broker's history settles it); then `done`, `rejected` (by the broker),
         *     `refused` (kill switch, risk limit, read-only session: nothing sent), `not_executed` (it
         *     certainly did not run: never sent, or not found in the broker's history once its deadline
         *     and `RECONCILE_GRACE_MS` passed) or `failed` (its account is gone).
         * @enum {string}
         */
        JournalStatus: "pending" | "done" | "rejected" | "refused" | "failed" | "unknown" | "not_executed";
        /** @description POST /bots/kill_switch. */
        KillSwitchRequest: {
            /**
             * Format: uuid
             * @description Only this account's bots (default: every bot of the user).
             */
            account_id?: string | null;
        };
        /** @description What the kill switch paused. */
        KillSwitchResult: {
            /** @description The bots paused now (running ones; paused, stopped and faulted ones are left as they are). */
            paused: string[];
        };
        /** @description A positive integer, as a JSON number or a string of digits */
        LoginInput: number | string;
        /** @description PUT /orders/{ticket}: absent fields are kept. */
        ModifyOrderRequest: {
            expiration?: null | components["schemas"]["TimeInput"];
            /** Format: double */
            price?: number;
            /**
             * Format: double
             * @description null removes it.
             */
            sl?: number | null;
            /** Format: double */
            stoplimit?: number;
            /**
             * Format: double
             * @description null removes it.
             */
            tp?: number | null;
        };
        /** @description PUT /positions/{ticket}: at least one of `sl`, `tp`; an absent one is kept, null removes it. */
        ModifyPositionRequest: {
            /** Format: double */
            sl?: number | null;
            /** Format: double */
            tp?: number | null;
        };
        /**
         * @description A modify's answer: the broker's result with `changed`: true when it applied the change
         *     (10009), false when there was nothing to change (10025 `NO_CHANGES`, a success for the
         *     client, journaled `done`); anything else is the broker's rejection.
         */
        ModifyResult: {
            /** Format: double */
            ask: number;
            /** Format: double */
            bid: number;
            /**
             * @description True when the change was applied (10009); false when there was nothing to change (10025
             *     `NO_CHANGES`, still a success).
             */
            changed: boolean;
            comment: string;
            /** Format: int64 */
            deal: number;
            /** Format: int64 */
            order: number;
            /** Format: double */
            price: number;
            request: components["schemas"]["TradeRequest"];
            /** Format: int64 */
            request_id: number;
            /** Format: int32 */
            retcode: number;
            /** Format: int64 */
            retcode_external: number;
            /** Format: double */
            volume: number;
        };
        /** @description `order_check()` result: values **after** the hypothetical operation; success is retcode 0. */
        OrderCheckResult: {
            /** Format: double */
            balance: number;
            comment: string;
            /** Format: double */
            equity: number;
            /** Format: double */
            margin: number;
            /** Format: double */
            margin_free: number;
            /** Format: double */
            margin_level: number;
            /** Format: double */
            profit: number;
            request: components["schemas"]["TradeRequest"];
            /** Format: int32 */
            retcode: number;
        };
        /** @description MT5's ORDER_FILLING_* constant, lower-case without the prefix; `unknown_<n>` (n: MT5's integer) for a value the service does not know */
        OrderFilling: ("fok" | "ioc" | "return" | "boc") | string;
        /**
         * @description MT5's ORDER_FILLING_* constant, lower-case without the prefix (accepted in any case on input)
         * @enum {string}
         */
        OrderFillingInput: "fok" | "ioc" | "return" | "boc";
        /** @description Active pending orders. */
        OrderList: {
            orders: components["schemas"]["TradeOrder"][];
        };
        /** @description MT5's ORDER_REASON_* constant, lower-case without the prefix; `unknown_<n>` (n: MT5's integer) for a value the service does not know */
        OrderReason: ("client" | "mobile" | "web" | "expert" | "sl" | "tp" | "so") | string;
        /** @description `order_send()` result, also for server rejections (look at `retcode`). */
        OrderSendResult: {
            /** Format: double */
            ask: number;
            /** Format: double */
            bid: number;
            comment: string;
            /** Format: int64 */
            deal: number;
            /** Format: int64 */
            order: number;
            /** Format: double */
            price: number;
            request: components["schemas"]["TradeRequest"];
            /** Format: int64 */
            request_id: number;
            /** Format: int32 */
            retcode: number;
            /** Format: int64 */
            retcode_external: number;
            /** Format: double */
            volume: number;
        };
        /** @description MT5's ORDER_STATE_* constant, lower-case without the prefix; `unknown_<n>` (n: MT5's integer) for a value the service does not know */
        OrderState: ("started" | "placed" | "canceled" | "partial" | "filled" | "rejected" | "expired" | "request_add" | "request_modify" | "request_cancel") | string;
        /** @description MT5's ORDER_TIME_* constant, lower-case without the prefix; `unknown_<n>` (n: MT5's integer) for a value the service does not know */
        OrderTime: ("gtc" | "day" | "specified" | "specified_day") | string;
        /**
         * @description MT5's ORDER_TIME_* constant, lower-case without the prefix (accepted in any case on input)
         * @enum {string}
         */
        OrderTimeInput: "gtc" | "day" | "specified" | "specified_day";
        /** @description MT5's ORDER_TYPE_* constant, lower-case without the prefix; `unknown_<n>` (n: MT5's integer) for a value the service does not know */
        OrderType: ("buy" | "sell" | "buy_limit" | "sell_limit" | "buy_stop" | "sell_stop" | "buy_stop_limit" | "sell_stop_limit" | "close_by") | string;
        /** @description POST /orders and POST /orders/check. */
        PlaceOrderRequest: {
            /** @description Kept after the journal's client id, within MT5's 27 characters. */
            comment?: string;
            /**
             * Format: int64
             * @description Points (default 20).
             */
            deviation?: number;
            /** @description Required when `type_time` is `specified` or `specified_day`. */
            expiration?: components["schemas"]["TimeInput"];
            /** Format: int64 */
            magic?: number;
            /**
             * Format: double
             * @description Pending orders: required. Market orders: default the current ask (buy) or bid (sell).
             */
            price?: number;
            /**
             * Format: double
             * @description Stop loss (0 = none).
             */
            sl?: number;
            /**
             * Format: double
             * @description Required for stop-limit orders.
             */
            stoplimit?: number;
            symbol: string;
            /**
             * Format: double
             * @description Take profit (0 = none).
             */
            tp?: number;
            type: components["schemas"]["PlaceOrderType"];
            /**
             * @description Default: one the symbol allows (IOC, else FOK, else RETURN); pending orders RETURN. Required
             *     for a market order on a symbol whose `filling_mode` has only policies the service does not
             *     know.
             */
            type_filling?: components["schemas"]["OrderFillingInput"];
            /** @description Default `gtc`. */
            type_time?: components["schemas"]["OrderTimeInput"];
            /**
             * Format: double
             * @description Lots; the broker checks the step grid (`10014 INVALID_VOLUME` otherwise).
             */
            volume: number;
        };
        /**
         * @description A market or pending order type (accepted in any case)
         * @enum {string}
         */
        PlaceOrderType: "buy" | "sell" | "buy_limit" | "sell_limit" | "buy_stop" | "sell_stop" | "buy_stop_limit" | "sell_stop_limit";
        /** @description The open positions. */
        PositionList: {
            positions: components["schemas"]["TradePosition"][];
        };
        /** @description MT5's POSITION_REASON_* constant, lower-case without the prefix; `unknown_<n>` (n: MT5's integer) for a value the service does not know */
        PositionReason: ("client" | "mobile" | "web" | "expert") | string;
        /** @description MT5's POSITION_TYPE_* constant, lower-case without the prefix; `unknown_<n>` (n: MT5's integer) for a value the service does not know */
        PositionType: ("buy" | "sell") | string;
        /**
         * @description The report fields a sweep may be ranked by.
         * @enum {string}
         */
        RankMetric: "net_profit" | "profit_factor" | "expected_payoff" | "recovery_factor" | "sharpe_ratio" | "win_rate" | "total_trades" | "max_drawdown_balance" | "max_drawdown_balance_pct" | "max_drawdown_equity" | "max_drawdown_equity_pct";
        /** @description One bar of `copy_rates_*` (the numpy rates dtype). */
        Rate: {
            /** Format: double */
            close: number;
            /** Format: double */
            high: number;
            /** Format: double */
            low: number;
            /** Format: double */
            open: number;
            /** Format: int64 */
            real_volume: number;
            /**
             * Format: int32
             * @description Spread in points.
             */
            spread: number;
            /** Format: int64 */
            tick_volume: number;
            /**
             * Format: date-time
             * @description Trade-server epoch seconds; the API writes RFC 3339 UTC, null for 0.
             */
            time: string | null;
        };
        /** @description Bars, oldest first. */
        RateList: {
            rates: components["schemas"]["Rate"][];
        };
        /** @description `GET /readyz`'s answer. */
        Readiness: {
            checks: components["schemas"]["ReadinessChecks"];
            status: components["schemas"]["ReadyStatus"];
            /**
             * @description Terminals in service whose trading is switched off (`terminal_info()`: "Algo Trading" off
             *     or `tradeapi_disabled`). They still serve reads; orders go to the others, and answer
             *     `503 terminal_trading_disabled` when none is left. Not a readiness failure.
             */
            terminals_trading_disabled: number;
        };
        /** @description One entry per check. */
        ReadinessChecks: {
            /** @description Redis answers a PING (only with `REDIS_URL`). */
            redis?: components["schemas"]["CheckStatus"];
            /** @description A trivial query on the store. */
            store: components["schemas"]["CheckStatus"];
            /** @description The pool has at least one terminal in service. */
            terminals: components["schemas"]["CheckStatus"];
        };
        /** @enum {string} */
        ReadyStatus: "ready" | "not_ready";
        /** @description A pass whose decisions the replay does not reproduce. */
        ReplayDifference: {
            /**
             * Format: date-time
             * @description The open time (UTC) of the bar the pass evaluated.
             */
            bar_time: string;
            /** @description What the pass decided then (the strategy's intents, before sizing). */
            recorded: {
                [key: string]: unknown;
            }[];
            /** @description What the strategy decides now on the same bars (from the bar cache) and positions. */
            replayed: {
                [key: string]: unknown;
            }[];
        };
        /** @description The replay of a bot's recorded passes. */
        ReplayResult: {
            /** Format: uuid */
            bot_id: string;
            /** @description The passes whose intents differ (empty on a broker whose history was not revised). */
            differences: components["schemas"]["ReplayDifference"][];
            /**
             * Format: date-time
             * @description More passes are recorded in the window: the `from` that continues after this page.
             */
            next_from?: string | null;
            /**
             * Format: int64
             * @description Recorded passes that evaluated the strategy in the window, all re-evaluated.
             */
            passes: number;
        };
        /** @description The report's numbers (docs/backtests.md#report). */
        Report: {
            /** Format: double */
            average_loss: number;
            /** Format: double */
            average_win: number;
            costs: components["schemas"]["Costs"];
            /**
             * Format: double
             * @description Net profit per trade; null without trades.
             */
            expected_payoff: number | null;
            /**
             * Format: double
             * @description The sum of the losing trades' results (zero or negative).
             */
            gross_loss: number;
            /**
             * Format: double
             * @description The sum of the winning trades' results.
             */
            gross_profit: number;
            /** Format: double */
            initial_deposit: number;
            /**
             * Format: double
             * @description Zero or negative.
             */
            largest_loss: number;
            /** Format: double */
            largest_win: number;
            /** Format: int64 */
            longest_losing_streak: number;
            /** Format: int64 */
            longest_winning_streak: number;
            /**
             * Format: double
             * @description The largest fall of the balance from a peak, in money.
             */
            max_drawdown_balance: number;
            /**
             * Format: double
             * @description The same fall as a percentage of that peak.
             */
            max_drawdown_balance_pct: number;
            /**
             * Format: double
             * @description The largest fall of the equity from a peak (the curve's lowest and highest points).
             */
            max_drawdown_equity: number;
            /** Format: double */
            max_drawdown_equity_pct: number;
            /**
             * Format: double
             * @description Gross profit plus gross loss: every trade's profit, swap and commission.
             */
            net_profit: number;
            /**
             * Format: double
             * @description Gross profit over the gross loss's size; null without a losing trade.
             */
            profit_factor: number | null;
            /**
             * Format: double
             * @description Net profit over the maximal equity drawdown; null when there was none.
             */
            recovery_factor: number | null;
            /**
             * Format: double
             * @description The mean of the trades' returns (result over the balance before the trade) over their
             *     standard deviation; not annualised; null with fewer than two trades or no variation.
             */
            sharpe_ratio: number | null;
            /** Format: int64 */
            total_trades: number;
            /**
             * Format: double
             * @description Winning trades over all trades (0 to 1); null without trades.
             */
            win_rate: number | null;
        };
        /** @description The account's risk limits; an unset limit is absent (docs/algorithms.md). */
        RiskLimits: {
            /**
             * Format: double
             * @description Fraction of the day's starting equity that may be lost in a day, in (0, 1].
             */
            max_daily_loss?: number;
            /**
             * Format: int64
             * @description Open positions the account may hold.
             */
            max_positions?: number;
            /**
             * Format: double
             * @description Fraction of equity one trade may lose at its stop loss, in (0, 1].
             */
            max_risk_per_trade?: number;
            /**
             * Format: double
             * @description Lots one order may have.
             */
            max_volume_per_trade?: number;
            /** @description The kill switch: `false` refuses every new order (`403 trading_disabled`). */
            trading_enabled?: boolean;
        };
        RunEnvelope: {
            run: components["schemas"]["AlgorithmRun"];
        };
        /** @description Runs, newest first; `next_cursor` is null on the last page. */
        RunPage: {
            next_cursor: string | null;
            runs: components["schemas"]["AlgorithmRun"][];
        };
        /**
         * @description A run's state.
         * @enum {string}
         */
        RunStatus: "running" | "done" | "failed" | "skipped";
        /** @description An entry or exit a run did not send, with why. */
        SkippedIntent: {
            /** @description What the strategy wanted (`action` `open` or `close`, symbol, …). */
            intent: {
                [key: string]: unknown;
            };
            reason: string;
        };
        /** @description POST /bots/{id}/stop. */
        StopBotRequest: {
            /** @description Close the bot's positions (those carrying its magic) through the order pipeline. */
            close_positions?: boolean | null;
        };
        /** @description A success with nothing more to say. */
        Success: {
            success: components["schemas"]["True"];
        };
        SwitchedAccount: {
            /** Format: double */
            balance: number;
            /** Format: int64 */
            login: number;
            server: string;
        };
        SwitchResponse: {
            account: components["schemas"]["SwitchedAccount"];
            success: components["schemas"]["True"];
        };
        /** @description MT5's SYMBOL_CALC_MODE_* constant, lower-case without the prefix; `unknown_<n>` (n: MT5's integer) for a value the service does not know */
        SymbolCalcMode: ("forex" | "futures" | "cfd" | "cfdindex" | "cfdleverage" | "forex_no_leverage" | "exch_stocks" | "exch_futures" | "exch_options" | "exch_options_margin" | "exch_bonds" | "exch_stocks_moex" | "exch_bonds_moex" | "serv_collateral") | string;
        /** @description MT5's SYMBOL_CHART_MODE_* constant, lower-case without the prefix; `unknown_<n>` (n: MT5's integer) for a value the service does not know */
        SymbolChartMode: ("bid" | "last") | string;
        /** @description `symbol_info()`: all 96 fields in the package's order. */
        SymbolInfo: {
            /** Format: double */
            ask: number;
            /** Format: double */
            askhigh: number;
            /** Format: double */
            asklow: number;
            bank: string;
            basis: string;
            /** Format: double */
            bid: number;
            /** Format: double */
            bidhigh: number;
            /** Format: double */
            bidlow: number;
            category: string;
            chart_mode: components["schemas"]["SymbolChartMode"];
            currency_base: string;
            currency_margin: string;
            currency_profit: string;
            custom: boolean;
            description: string;
            /** Format: int32 */
            digits: number;
            exchange: string;
            /**
             * Format: int32
             * @description SYMBOL_EXPIRATION_* bits.
             */
            expiration_mode: number;
            /**
             * Format: date-time
             * @description Trade-server epoch seconds; the API writes RFC 3339 UTC, null for 0.
             */
            expiration_time: string | null;
            /**
             * Format: int32
             * @description SYMBOL_FILLING_* bits.
             */
            filling_mode: number;
            formula: string;
            isin: string;
            /** Format: double */
            last: number;
            /** Format: double */
            lasthigh: number;
            /** Format: double */
            lastlow: number;
            /** Format: double */
            margin_hedged: number;
            margin_hedged_use_leg: boolean;
            /** Format: double */
            margin_initial: number;
            /** Format: double */
            margin_maintenance: number;
            name: string;
            option_mode: components["schemas"]["SymbolOptionMode"];
            option_right: components["schemas"]["SymbolOptionRight"];
            /** Format: double */
            option_strike: number;
            order_gtc_mode: components["schemas"]["SymbolOrdersGtc"];
            /**
             * Format: int32
             * @description SYMBOL_ORDER_* bits.
             */
            order_mode: number;
            page: string;
            path: string;
            /** Format: double */
            point: number;
            /** Format: double */
            price_change: number;
            /** Format: double */
            price_greeks_delta: number;
            /** Format: double */
            price_greeks_gamma: number;
            /** Format: double */
            price_greeks_omega: number;
            /** Format: double */
            price_greeks_rho: number;
            /** Format: double */
            price_greeks_theta: number;
            /** Format: double */
            price_greeks_vega: number;
            /** Format: double */
            price_sensitivity: number;
            /** Format: double */
            price_theoretical: number;
            /** Format: double */
            price_volatility: number;
            select: boolean;
            /** Format: double */
            session_aw: number;
            /** Format: int64 */
            session_buy_orders: number;
            /** Format: double */
            session_buy_orders_volume: number;
            /** Format: double */
            session_close: number;
            /** Format: int64 */
            session_deals: number;
            /** Format: double */
            session_interest: number;
            /** Format: double */
            session_open: number;
            /** Format: double */
            session_price_limit_max: number;
            /** Format: double */
            session_price_limit_min: number;
            /** Format: double */
            session_price_settlement: number;
            /** Format: int64 */
            session_sell_orders: number;
            /** Format: double */
            session_sell_orders_volume: number;
            /** Format: double */
            session_turnover: number;
            /** Format: double */
            session_volume: number;
            /** Format: int32 */
            spread: number;
            spread_float: boolean;
            /**
             * Format: date-time
             * @description Trade-server epoch seconds; the API writes RFC 3339 UTC, null for 0.
             */
            start_time: string | null;
            /** Format: double */
            swap_long: number;
            swap_mode: components["schemas"]["SymbolSwapMode"];
            swap_rollover3days: components["schemas"]["DayOfWeek"];
            /** Format: double */
            swap_short: number;
            /** Format: int32 */
            ticks_bookdepth: number;
            /**
             * Format: date-time
             * @description Trade-server epoch seconds; the API writes RFC 3339 UTC, null for 0.
             */
            time: string | null;
            /** Format: double */
            trade_accrued_interest: number;
            trade_calc_mode: components["schemas"]["SymbolCalcMode"];
            /** Format: double */
            trade_contract_size: number;
            trade_exemode: components["schemas"]["SymbolTradeExecution"];
            /** Format: double */
            trade_face_value: number;
            /** Format: int32 */
            trade_freeze_level: number;
            /** Format: double */
            trade_liquidity_rate: number;
            trade_mode: components["schemas"]["SymbolTradeMode"];
            /** Format: int32 */
            trade_stops_level: number;
            /** Format: double */
            trade_tick_size: number;
            /** Format: double */
            trade_tick_value: number;
            /** Format: double */
            trade_tick_value_loss: number;
            /** Format: double */
            trade_tick_value_profit: number;
            visible: boolean;
            /** Format: int64 */
            volume: number;
            /** Format: double */
            volume_limit: number;
            /** Format: double */
            volume_max: number;
            /** Format: double */
            volume_min: number;
            /** Format: double */
            volume_real: number;
            /** Format: double */
            volume_step: number;
            /** Format: int64 */
            volumehigh: number;
            /** Format: double */
            volumehigh_real: number;
            /** Format: int64 */
            volumelow: number;
            /** Format: double */
            volumelow_real: number;
        };
        SymbolList: {
            symbols: components["schemas"]["SymbolInfo"][];
        };
        /** @description MT5's SYMBOL_OPTION_MODE_* constant, lower-case without the prefix; `unknown_<n>` (n: MT5's integer) for a value the service does not know */
        SymbolOptionMode: ("european" | "american") | string;
        /** @description MT5's SYMBOL_OPTION_RIGHT_* constant, lower-case without the prefix; `unknown_<n>` (n: MT5's integer) for a value the service does not know */
        SymbolOptionRight: ("call" | "put") | string;
        /** @description MT5's SYMBOL_ORDERS_* constant, lower-case without the prefix; `unknown_<n>` (n: MT5's integer) for a value the service does not know */
        SymbolOrdersGtc: ("gtc" | "daily" | "daily_no_stops") | string;
        /** @description MT5's SYMBOL_SWAP_MODE_* constant, lower-case without the prefix; `unknown_<n>` (n: MT5's integer) for a value the service does not know */
        SymbolSwapMode: ("disabled" | "points" | "currency_symbol" | "currency_margin" | "currency_deposit" | "interest_current" | "interest_open" | "reopen_current" | "reopen_bid") | string;
        /** @description MT5's SYMBOL_TRADE_EXECUTION_* constant, lower-case without the prefix; `unknown_<n>` (n: MT5's integer) for a value the service does not know */
        SymbolTradeExecution: ("request" | "instant" | "market" | "exchange") | string;
        /** @description MT5's SYMBOL_TRADE_MODE_* constant, lower-case without the prefix; `unknown_<n>` (n: MT5's integer) for a value the service does not know */
        SymbolTradeMode: ("disabled" | "longonly" | "shortonly" | "closeonly" | "full") | string;
        /** @description `symbol_info_tick()`. */
        Tick: {
            /** Format: double */
            ask: number;
            /** Format: double */
            bid: number;
            /**
             * Format: int32
             * @description TICK_FLAG_* bits.
             */
            flags: number;
            /** Format: double */
            last: number;
            /**
             * Format: date-time
             * @description Trade-server epoch seconds; the API writes RFC 3339 UTC, null for 0.
             */
            time: string | null;
            /**
             * Format: date-time
             * @description Trade-server epoch milliseconds; the API writes RFC 3339 UTC with milliseconds, null for 0.
             */
            time_msc: string | null;
            /** Format: int64 */
            volume: number;
            /** Format: double */
            volume_real: number;
        };
        /**
         * @description MT5's TIMEFRAME_* constant, lower-case without the prefix (accepted in any case on input)
         * @enum {string}
         */
        TimeframeInput: "m1" | "m2" | "m3" | "m4" | "m5" | "m6" | "m10" | "m12" | "m15" | "m20" | "m30" | "h1" | "h2" | "h3" | "h4" | "h6" | "h8" | "h12" | "d1" | "w1" | "mn1";
        /** @description An RFC 3339 time (any offset) or epoch seconds (UTC), from 1970 to before 2100 */
        TimeInput: string | number;
        /** @description MT5's TRADE_ACTION_* constant, lower-case without the prefix; `unknown_<n>` (n: MT5's integer) for a value the service does not know */
        TradeAction: ("deal" | "pending" | "sltp" | "modify" | "remove" | "close_by") | string;
        /** @description `history_deals_get()`. */
        TradeDeal: {
            comment: string;
            /** Format: double */
            commission: number;
            entry: components["schemas"]["DealEntry"];
            external_id: string;
            /** Format: double */
            fee: number;
            /** Format: int64 */
            magic: number;
            /** Format: int64 */
            order: number;
            /** Format: int64 */
            position_id: number;
            /** Format: double */
            price: number;
            /** Format: double */
            profit: number;
            reason: components["schemas"]["DealReason"];
            /** Format: double */
            swap: number;
            symbol: string;
            /** Format: int64 */
            ticket: number;
            /**
             * Format: date-time
             * @description Trade-server epoch seconds; the API writes RFC 3339 UTC, null for 0.
             */
            time: string | null;
            /**
             * Format: date-time
             * @description Trade-server epoch milliseconds; the API writes RFC 3339 UTC with milliseconds, null for 0.
             */
            time_msc: string | null;
            type: components["schemas"]["DealType"];
            /** Format: double */
            volume: number;
        };
        /** @description `orders_get()` and `history_orders_get()`. */
        TradeOrder: {
            comment: string;
            external_id: string;
            /** Format: int64 */
            magic: number;
            /** Format: int64 */
            position_by_id: number;
            /** Format: int64 */
            position_id: number;
            /** Format: double */
            price_current: number;
            /** Format: double */
            price_open: number;
            /** Format: double */
            price_stoplimit: number;
            reason: components["schemas"]["OrderReason"];
            /** Format: double */
            sl: number;
            state: components["schemas"]["OrderState"];
            symbol: string;
            /** Format: int64 */
            ticket: number;
            /**
             * Format: date-time
             * @description Trade-server epoch seconds; the API writes RFC 3339 UTC, null for 0.
             */
            time_done: string | null;
            /**
             * Format: date-time
             * @description Trade-server epoch milliseconds; the API writes RFC 3339 UTC with milliseconds, null for 0.
             */
            time_done_msc: string | null;
            /**
             * Format: date-time
             * @description Trade-server epoch seconds; the API writes RFC 3339 UTC, null for 0.
             */
            time_expiration: string | null;
            /**
             * Format: date-time
             * @description Trade-server epoch seconds; the API writes RFC 3339 UTC, null for 0.
             */
            time_setup: string | null;
            /**
             * Format: date-time
             * @description Trade-server epoch milliseconds; the API writes RFC 3339 UTC with milliseconds, null for 0.
             */
            time_setup_msc: string | null;
            /** Format: double */
            tp: number;
            type: components["schemas"]["OrderType"];
            type_filling: components["schemas"]["OrderFilling"];
            type_time: components["schemas"]["OrderTime"];
            /** Format: double */
            volume_current: number;
            /** Format: double */
            volume_initial: number;
        };
        /** @description `positions_get()`. */
        TradePosition: {
            comment: string;
            external_id: string;
            /** Format: int64 */
            identifier: number;
            /** Format: int64 */
            magic: number;
            /** Format: double */
            price_current: number;
            /** Format: double */
            price_open: number;
            /** Format: double */
            profit: number;
            reason: components["schemas"]["PositionReason"];
            /** Format: double */
            sl: number;
            /** Format: double */
            swap: number;
            symbol: string;
            /** Format: int64 */
            ticket: number;
            /**
             * Format: date-time
             * @description Trade-server epoch seconds; the API writes RFC 3339 UTC, null for 0.
             */
            time: string | null;
            /**
             * Format: date-time
             * @description Trade-server epoch milliseconds; the API writes RFC 3339 UTC with milliseconds, null for 0.
             */
            time_msc: string | null;
            /**
             * Format: date-time
             * @description Trade-server epoch seconds; the API writes RFC 3339 UTC, null for 0.
             */
            time_update: string | null;
            /**
             * Format: date-time
             * @description Trade-server epoch milliseconds; the API writes RFC 3339 UTC with milliseconds, null for 0.
             */
            time_update_msc: string | null;
            /** Format: double */
            tp: number;
            type: components["schemas"]["PositionType"];
            /** Format: double */
            volume: number;
        };
        /** @description The request dict of `order_check` / `order_send`. Omitted fields are 0 / empty, as in MT5. */
        TradeRequest: {
            /** @default deal */
            action: components["schemas"]["TradeAction"];
            /** @default  */
            comment: string;
            /**
             * Format: int64
             * @default 0
             */
            deviation: number;
            /**
             * Format: date-time
             * @description Trade-server epoch seconds; the API writes RFC 3339 UTC, null for 0.
             * @default 0
             */
            expiration: string | null;
            /**
             * Format: int64
             * @default 0
             */
            magic: number;
            /**
             * Format: int64
             * @default 0
             */
            order: number;
            /**
             * Format: int64
             * @default 0
             */
            position: number;
            /**
             * Format: int64
             * @default 0
             */
            position_by: number;
            /**
             * Format: double
             * @default 0
             */
            price: number;
            /**
             * Format: double
             * @default 0
             */
            sl: number;
            /**
             * Format: double
             * @default 0
             */
            stoplimit: number;
            /** @default  */
            symbol: string;
            /**
             * Format: double
             * @default 0
             */
            tp: number;
            /** @default buy */
            type: components["schemas"]["OrderType"];
            /** @default fok */
            type_filling: components["schemas"]["OrderFilling"];
            /** @default gtc */
            type_time: components["schemas"]["OrderTime"];
            /**
             * Format: double
             * @default 0
             */
            volume: number;
        };
        /** @enum {boolean} */
        True: true;
        /** @description A report field the account's deals cannot give, and why. */
        Unavailable: {
            field: string;
            reason: string;
        };
        /** @description PUT /accounts/{account_id}: a partial update; absent fields stay unchanged. */
        UpdateAccountRequest: {
            account_name?: string;
            account_type?: null | components["schemas"]["AccountType"];
            broker_name?: string | null;
            /** @description `true` makes it the default; `false` on the default is refused. */
            is_default?: boolean;
            /** @description Verified by a login before it is stored. */
            password?: string;
            risk_limits?: null | components["schemas"]["RiskLimits"];
        };
        /** @description A new name, a new strategy with its parameters, or new parameters for the saved strategy */
        UpdateAlgorithmRequest: {
            /** @enum {string} */
            kind: "ma_crossover";
            /** @description Unique among the user's configurations */
            name?: string;
            parameters?: {
                /**
                 * @description Bars of the Wilder ATR that sets the stop-loss distance.
                 * @default 14
                 */
                atr_period?: number;
                /**
                 * @description Stop loss at this many ATRs from the last close.
                 * @default 2
                 */
                atr_sl_multiplier?: number;
                /**
                 * @description Bars of the fast simple moving average.
                 * @default 10
                 */
                fast_period?: number;
                /**
                 * @description Most positions this strategy holds on the symbol at once.
                 * @default 1
                 */
                max_positions?: number;
                /**
                 * @description Fraction of equity lost if the stop loss is hit; sizes each entry.
                 * @default 0.01
                 */
                risk_per_trade?: number;
                /**
                 * @description Bars of the slow simple moving average; must be greater than fast_period.
                 * @default 30
                 */
                slow_period?: number;
                /** @description The symbol to trade, as the broker names it (e.g. EURUSD). */
                symbol: string;
                /**
                 * @description Bar period the strategy reads (case-insensitive).
                 * @default H1
                 * @enum {string}
                 */
                timeframe?: "M1" | "M2" | "M3" | "M4" | "M5" | "M6" | "M10" | "M12" | "M15" | "M20" | "M30" | "H1" | "H2" | "H3" | "H4" | "H6" | "H8" | "H12" | "D1" | "W1" | "MN1";
                /** @description Take profit at this multiple of the stop-loss distance; null = no take profit. */
                tp_rr?: number | null;
            };
        } | {
            /** @enum {string} */
            kind: "rsi_reversion";
            /** @description Unique among the user's configurations */
            name?: string;
            parameters?: {
                /**
                 * @description Bars of the Wilder ATR that sets the stop-loss distance.
                 * @default 14
                 */
                atr_period?: number;
                /**
                 * @description Stop loss at this many ATRs from the last close.
                 * @default 2
                 */
                atr_sl_multiplier?: number;
                /**
                 * @description Most positions this strategy holds on the symbol at once.
                 * @default 1
                 */
                max_positions?: number;
                /**
                 * @description Sell when the RSI crosses down through this level; must be above oversold.
                 * @default 70
                 */
                overbought?: number;
                /**
                 * @description Buy when the RSI crosses up through this level; must be below overbought.
                 * @default 30
                 */
                oversold?: number;
                /**
                 * @description Fraction of equity lost if the stop loss is hit; sizes each entry.
                 * @default 0.01
                 */
                risk_per_trade?: number;
                /**
                 * @description Bars of the Wilder RSI.
                 * @default 14
                 */
                rsi_period?: number;
                /** @description The symbol to trade, as the broker names it (e.g. EURUSD). */
                symbol: string;
                /**
                 * @description Bar period the strategy reads (case-insensitive).
                 * @default H1
                 * @enum {string}
                 */
                timeframe?: "M1" | "M2" | "M3" | "M4" | "M5" | "M6" | "M10" | "M12" | "M15" | "M20" | "M30" | "H1" | "H2" | "H3" | "H4" | "H6" | "H8" | "H12" | "D1" | "W1" | "MN1";
                /** @description Take profit at this multiple of the stop-loss distance; null = no take profit. */
                tp_rr?: number | null;
            };
        } | {
            /** @enum {string} */
            kind: "donchian_breakout";
            /** @description Unique among the user's configurations */
            name?: string;
            parameters?: {
                /**
                 * @description Bars of the Wilder ATR that sets the stop-loss distance.
                 * @default 14
                 */
                atr_period?: number;
                /**
                 * @description Stop loss at this many ATRs from the last close.
                 * @default 2
                 */
                atr_sl_multiplier?: number;
                /**
                 * @description Bars of the Donchian channel whose break opens a position.
                 * @default 20
                 */
                channel_period?: number;
                /**
                 * @description Bars of the opposite channel whose break closes a position; must be less than channel_period.
                 * @default 10
                 */
                exit_period?: number;
                /**
                 * @description Most positions this strategy holds on the symbol at once.
                 * @default 1
                 */
                max_positions?: number;
                /**
                 * @description Fraction of equity lost if the stop loss is hit; sizes each entry.
                 * @default 0.01
                 */
                risk_per_trade?: number;
                /** @description The symbol to trade, as the broker names it (e.g. EURUSD). */
                symbol: string;
                /**
                 * @description Bar period the strategy reads (case-insensitive).
                 * @default H1
                 * @enum {string}
                 */
                timeframe?: "M1" | "M2" | "M3" | "M4" | "M5" | "M6" | "M10" | "M12" | "M15" | "M20" | "M30" | "H1" | "H2" | "H3" | "H4" | "H6" | "H8" | "H12" | "D1" | "W1" | "MN1";
                /** @description Take profit at this multiple of the stop-loss distance; null = no take profit. */
                tp_rr?: number | null;
            };
        } | {
            /** @description Unique among the user's configurations */
            name?: string;
            /** @description Overrides of the saved configuration's parameters (its strategy's, `GET /algorithms`) */
            parameters?: {
                /**
                 * @description Bars of the Wilder ATR that sets the stop-loss distance.
                 * @default 14
                 */
                atr_period?: number;
                /**
                 * @description Stop loss at this many ATRs from the last close.
                 * @default 2
                 */
                atr_sl_multiplier?: number;
                /**
                 * @description Bars of the Donchian channel whose break opens a position.
                 * @default 20
                 */
                channel_period?: number;
                /**
                 * @description Bars of the opposite channel whose break closes a position; must be less than channel_period.
                 * @default 10
                 */
                exit_period?: number;
                /**
                 * @description Bars of the fast simple moving average.
                 * @default 10
                 */
                fast_period?: number;
                /**
                 * @description Most positions this strategy holds on the symbol at once.
                 * @default 1
                 */
                max_positions?: number;
                /**
                 * @description Sell when the RSI crosses down through this level; must be above oversold.
                 * @default 70
                 */
                overbought?: number;
                /**
                 * @description Buy when the RSI crosses up through this level; must be below overbought.
                 * @default 30
                 */
                oversold?: number;
                /**
                 * @description Fraction of equity lost if the stop loss is hit; sizes each entry.
                 * @default 0.01
                 */
                risk_per_trade?: number;
                /**
                 * @description Bars of the Wilder RSI.
                 * @default 14
                 */
                rsi_period?: number;
                /**
                 * @description Bars of the slow simple moving average; must be greater than fast_period.
                 * @default 30
                 */
                slow_period?: number;
                /** @description The symbol to trade, as the broker names it (e.g. EURUSD). */
                symbol?: string;
                /**
                 * @description Bar period the strategy reads (case-insensitive).
                 * @default H1
                 * @enum {string}
                 */
                timeframe?: "M1" | "M2" | "M3" | "M4" | "M5" | "M6" | "M10" | "M12" | "M15" | "M20" | "M30" | "H1" | "H2" | "H3" | "H4" | "H6" | "H8" | "H12" | "D1" | "W1" | "MN1";
                /** @description Take profit at this multiple of the stop-loss distance; null = no take profit. */
                tp_rr?: number | null;
            };
        };
        /** @description PUT /bots/{id}. */
        UpdateBotRequest: {
            /** @description New parameters, over the bot's (validated as on creation). */
            parameters: {
                [key: string]: unknown;
            };
        };
    };
    responses: {
        /** @description `account_credentials_invalid`: the account's stored credential cannot serve (`details.reason`: `undecryptable`, or `refused_by_mt5` with MT5's error); nothing ran. Set the password again */
        CredentialsInvalid: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["ErrorBody"];
            };
        };
        /** @description `database_unavailable`: the database does not answer; nothing was done */
        DatabaseUnavailable: {
            headers: {
                /** @description Seconds to wait */
                "Retry-After"?: string;
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["ErrorBody"];
            };
        };
        /** @description `request_in_progress`: a request with this `Idempotency-Key` is still running after a 2 s wait (`details.journal_id`; `Retry-After: 1`); `order_outcome_unknown`: the order sent with this key is `unknown` (`details.journal_id`; `Retry-After`); `account_credentials_invalid`: the stored credential cannot serve (`details.reason`); nothing was sent */
        InProgressOrCredentialsInvalid: {
            headers: {
                /** @description With `request_in_progress` and `order_outcome_unknown`: seconds until a retry may be answered */
                "Retry-After"?: string;
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["ErrorBody"];
            };
        };
        /** @description `internal_error`: a fault of the service, never of the input (logged with the request id) */
        Internal: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["ErrorBody"];
            };
        };
        /** @description `invalid_json`: the body is not valid JSON */
        InvalidJson: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["ErrorBody"];
            };
        };
        /** @description `account_not_found` (`X-Account-Id` names no account of the user's); `no_account` (none to act on) */
        NoAccountToActOn: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["ErrorBody"];
            };
        };
        /** @description `payload_too_large`: the body is over 64 KiB */
        PayloadTooLarge: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["ErrorBody"];
            };
        };
        /** @description `rate_limited`: a limit was reached; `details` has `scope` (`switches_per_user`, `trades_per_account`, `failed_connects_per_user`, `failed_logins_per_login`, `refusals_per_user`, `dry_runs_per_user`, `queue_per_user`, `streams_per_user`), `limit`, `window_seconds` (0 for `queue_per_user` and `streams_per_user`), `retry_after_seconds` */
        RateLimited: {
            headers: {
                /** @description Seconds until a retry may pass */
                "Retry-After"?: string;
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["ErrorBody"];
            };
        };
        /** @description `terminal_timeout`: the terminal did not answer in time; for an order, `details` has `journal_id` and `status` `unknown`: it may have executed; `GET /api/v1/journal/{id}` shows it once the broker's history settles it */
        TerminalTimeout: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["ErrorBody"];
            };
        };
        /** @description `terminal_unavailable`: no terminal can serve the request now (for an order, `details` has `journal_id` and `status` `not_executed`: nothing ran and its key may be sent again); `database_unavailable`: the database does not answer; `journal_unavailable`: an order was sent but its outcome could not be recorded (`details.journal_id`; it settles from the broker's history); or, with `REDIS_URL`, `redis_unavailable`: Redis does not answer */
        TerminalUnavailable: {
            headers: {
                /** @description With `database_unavailable`, `journal_unavailable` and `redis_unavailable`: seconds to wait */
                "Retry-After"?: string;
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["ErrorBody"];
            };
        };
        /** @description `trading_disabled`: the account's kill switch is on; `read_only_account`: the terminal reports that trading is not allowed on this account (an investor password); nothing was sent (journaled as `refused`) */
        TradingDisabledOrReadOnly: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["ErrorBody"];
            };
        };
        /** @description `validation_failed`: a parameter or a stored setting (e.g. `risk_limits`) is invalid; `invalid_combination`: parameters valid one by one that cannot go together (`count` with `from`/`to`, `from` after `to`, a window over 366 days, `from`/`to` other than the `cursor`'s window) */
        TradingReadInvalid: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["ErrorBody"];
            };
        };
        /** @description `unauthorized`: missing, malformed or expired token, or one this service does not accept */
        Unauthorized: {
            headers: {
                /** @description `Bearer` */
                "WWW-Authenticate"?: string;
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["ErrorBody"];
            };
        };
    };
    parameters: never;
    requestBodies: never;
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
    account_info: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description One of the user's accounts (another's is `404 account_not_found`); when absent, the current
                 *     account (the last switch), else the default.
                 */
                "X-Account-Id"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description MT5's account_info plus the bridge's account_id */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AccountInfo"];
                };
            };
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NoAccountToActOn"];
            409: components["responses"]["CredentialsInvalid"];
            422: components["responses"]["TradingReadInvalid"];
            500: components["responses"]["Internal"];
            503: components["responses"]["TerminalUnavailable"];
            504: components["responses"]["TerminalTimeout"];
        };
    };
    list_accounts: {
        parameters: {
            query?: {
                /** @description `true` adds deleted accounts. */
                include_inactive?: boolean;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The accounts */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AccountList"];
                };
            };
            401: components["responses"]["Unauthorized"];
            /** @description `validation_failed`: `include_inactive` is not true or false */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            500: components["responses"]["Internal"];
        };
    };
    get_account: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The account's id */
                account_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The account */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AccountEnvelope"];
                };
            };
            401: components["responses"]["Unauthorized"];
            /** @description `account_not_found`: no such account of this user (deleted, or another user's) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description `validation_failed`: `account_id` is not a UUID */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            500: components["responses"]["Internal"];
        };
    };
    update_account: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The account's id */
                account_id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["UpdateAccountRequest"];
            };
        };
        responses: {
            /** @description Updated */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AccountUpdated"];
                };
            };
            400: components["responses"]["InvalidJson"];
            401: components["responses"]["Unauthorized"];
            /** @description `anonymous_not_allowed`: an anonymous sign-in may not store a password; `mfa_required`: with `JWT_REQUIRE_AAL2`, a `password` needs a token whose `aal` is `aal2` */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description `account_not_found` */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            409: components["responses"]["CredentialsInvalid"];
            413: components["responses"]["PayloadTooLarge"];
            /** @description `validation_failed`; `mt5_login_failed` (the new password); `account_type_mismatch` */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description `rate_limited`: a new `password` is a guess, held to `failed_connects_per_user` (the user's new passwords refused by MT5, `CONNECT_FAIL_LIMIT` per 15 minutes) and, unless the user holds the login's trading row (its stored password logged in with trading allowed), `failed_logins_per_login` (refused across all users, `LOGIN_FAIL_LIMIT`); a `password` or `account_type` checked on a terminal may also meet `queue_per_user` (too many of the user's requests waiting for a terminal, `window_seconds` 0). `details` has `scope`, `limit`, `window_seconds`, `retry_after_seconds` */
            429: {
                headers: {
                    /** @description Seconds until a retry may pass */
                    "Retry-After"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            500: components["responses"]["Internal"];
            503: components["responses"]["TerminalUnavailable"];
            504: components["responses"]["TerminalTimeout"];
        };
    };
    delete_account: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The account's id */
                account_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Deleted */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Success"];
                };
            };
            401: components["responses"]["Unauthorized"];
            /** @description `account_not_found` */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description `validation_failed`: `account_id` is not a UUID */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            500: components["responses"]["Internal"];
        };
    };
    account_report: {
        parameters: {
            query?: {
                /** @description RFC 3339 or epoch seconds (default 30 days before `to`); at most 366 days before `to`. */
                from?: components["schemas"]["TimeInput"];
                /** @description Only trades with this magic number (an algorithm's, or a bot's). */
                magic?: string;
                /** @description Only this symbol's trades. */
                symbol?: string;
                /** @description RFC 3339 or epoch seconds (default now). */
                to?: components["schemas"]["TimeInput"];
            };
            header?: never;
            path: {
                /** @description One of the user's accounts */
                account_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The report */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AccountReportView"];
                };
            };
            401: components["responses"]["Unauthorized"];
            /** @description `account_not_found` */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            409: components["responses"]["CredentialsInvalid"];
            422: components["responses"]["TradingReadInvalid"];
            500: components["responses"]["Internal"];
            503: components["responses"]["TerminalUnavailable"];
            504: components["responses"]["TerminalTimeout"];
        };
    };
    switch_account: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The account's id */
                account_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Switched */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SwitchResponse"];
                };
            };
            401: components["responses"]["Unauthorized"];
            /** @description `account_not_found` */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            409: components["responses"]["CredentialsInvalid"];
            /** @description `validation_failed` (`account_id` not a UUID); `mt5_login_failed` (the stored password no longer logs in) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            429: components["responses"]["RateLimited"];
            500: components["responses"]["Internal"];
            503: components["responses"]["TerminalUnavailable"];
            504: components["responses"]["TerminalTimeout"];
        };
    };
    connect_account: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ConnectRequest"];
            };
        };
        responses: {
            /** @description Connected */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ConnectResponse"];
                };
            };
            400: components["responses"]["InvalidJson"];
            401: components["responses"]["Unauthorized"];
            /** @description `anonymous_not_allowed`: an anonymous sign-in may not store credentials; `mfa_required`: with `JWT_REQUIRE_AAL2`, the token's `aal` is not `aal2` */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description `account_exists`: this login and server are already connected */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            413: components["responses"]["PayloadTooLarge"];
            /** @description `validation_failed`; `mt5_login_failed` (MT5 refused the login; its error in `details`); `account_type_mismatch` */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            429: components["responses"]["RateLimited"];
            500: components["responses"]["Internal"];
            503: components["responses"]["TerminalUnavailable"];
            504: components["responses"]["TerminalTimeout"];
        };
    };
    current_account: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The current account */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CurrentAccountResponse"];
                };
            };
            401: components["responses"]["Unauthorized"];
            /** @description `no_account`: the user has no account */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            409: components["responses"]["CredentialsInvalid"];
            /** @description `mt5_login_failed`: the stored password no longer logs in */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            500: components["responses"]["Internal"];
            503: components["responses"]["TerminalUnavailable"];
            504: components["responses"]["TerminalTimeout"];
        };
    };
    list_algorithms: {
        parameters: {
            query?: {
                /** @description `next_cursor` of the previous page (opaque; anything else is 422 naming `cursor`). */
                cursor?: string;
                /**
                 * @description 1 to 10000; a page holds at most `ALGORITHMS_PER_USER` (100 by default), which is also the
                 *     default, so a client that does not page gets every configuration.
                 */
                limit?: number;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Built-in strategies with their parameters' schema, and a page of saved configurations */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AlgorithmList"];
                };
            };
            401: components["responses"]["Unauthorized"];
            /** @description `validation_failed`: a bad `limit` or `cursor`, or an unknown parameter */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            500: components["responses"]["Internal"];
        };
    };
    create_algorithm: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CreateAlgorithmRequest"];
            };
        };
        responses: {
            /** @description Saved */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AlgorithmSaved"];
                };
            };
            400: components["responses"]["InvalidJson"];
            401: components["responses"]["Unauthorized"];
            /** @description `algorithm_exists`: another saved algorithm of the user's has this `name`; `algorithm_limit_reached`: the user has `ALGORITHMS_PER_USER` saved configurations (`details`: `limit`, `current`) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            413: components["responses"]["PayloadTooLarge"];
            /** @description `validation_failed`: an unknown `kind`, or `parameters.<key>` at fault; `invalid_combination`: parameters that contradict each other (`slow_period` ≤ `fast_period`, …) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            500: components["responses"]["Internal"];
        };
    };
    get_algorithm: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The configuration's id */
                algorithm_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The configuration */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AlgorithmEnvelope"];
                };
            };
            401: components["responses"]["Unauthorized"];
            /** @description `algorithm_not_found` */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            500: components["responses"]["Internal"];
        };
    };
    update_algorithm: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The configuration's id */
                algorithm_id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["UpdateAlgorithmRequest"];
            };
        };
        responses: {
            /** @description Updated */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AlgorithmSaved"];
                };
            };
            400: components["responses"]["InvalidJson"];
            401: components["responses"]["Unauthorized"];
            /** @description `algorithm_not_found` */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description `algorithm_exists`: another saved algorithm of the user's has this `name` */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            413: components["responses"]["PayloadTooLarge"];
            /** @description `validation_failed`; `invalid_combination` (parameters that contradict each other, or that do not fit the saved strategy when `kind` or `parameters` is left out) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            500: components["responses"]["Internal"];
        };
    };
    delete_algorithm: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The configuration's id */
                algorithm_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Deleted */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Success"];
                };
            };
            401: components["responses"]["Unauthorized"];
            /** @description `algorithm_not_found` */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            500: components["responses"]["Internal"];
        };
    };
    execute_algorithm: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ExecuteRequest"];
            };
        };
        responses: {
            /** @description The run's trades and skipped intents */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ExecuteResponse"];
                };
            };
            400: components["responses"]["InvalidJson"];
            401: components["responses"]["Unauthorized"];
            /** @description `read_only_account`: the terminal reports that trading is not allowed on this account (not for dry runs) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description `account_not_found`; `algorithm_not_found`; `symbol_not_found` */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            409: components["responses"]["CredentialsInvalid"];
            413: components["responses"]["PayloadTooLarge"];
            /** @description `invalid_combination` (parameters that contradict each other); `validation_failed` (`parameters.<key>` at fault, in the request or the saved configuration, or the saved configuration's `kind`; `risk_limits.<key>` when the account's stored limits are invalid); `live_confirmation_required` (the account's `account_type` is `live` or its terminal reports a real account, and `confirm_live` is not true; dry runs too) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            429: components["responses"]["RateLimited"];
            500: components["responses"]["Internal"];
            503: components["responses"]["TerminalUnavailable"];
            504: components["responses"]["TerminalTimeout"];
        };
    };
    list_runs: {
        parameters: {
            query?: {
                /** @description Only this bot's passes (without it, bots' passes are left out). */
                bot_id?: string;
                /** @description `next_cursor` of the previous page (opaque; anything else is 422 naming `cursor`). */
                cursor?: string;
                /** @description 1 to 500 (default 50). */
                limit?: number;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A page of runs */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RunPage"];
                };
            };
            401: components["responses"]["Unauthorized"];
            /** @description `validation_failed`: a bad `limit` or `cursor`, or an unknown parameter */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            500: components["responses"]["Internal"];
        };
    };
    get_run: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The run's id */
                run_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The run */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RunEnvelope"];
                };
            };
            401: components["responses"]["Unauthorized"];
            /** @description `run_not_found` */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description `validation_failed`: `run_id` is not a UUID */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            500: components["responses"]["Internal"];
        };
    };
    list_audit: {
        parameters: {
            query?: {
                /** @description How many entries, newest first: 1 to 500 (default 100). */
                limit?: number;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The entries, newest first */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AuditPage"];
                };
            };
            401: components["responses"]["Unauthorized"];
            /** @description `validation_failed`: `limit` is not an integer from 1 to 500 */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            500: components["responses"]["Internal"];
        };
    };
    list_backtests: {
        parameters: {
            query?: {
                /** @description `next_cursor` of the previous page (opaque; anything else is 422 naming `cursor`). */
                cursor?: string;
                /** @description 1 to 200 (default 50). */
                limit?: number;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A page of backtests */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["BacktestPage"];
                };
            };
            401: components["responses"]["Unauthorized"];
            /** @description `validation_failed`: a bad `limit` or `cursor`, or an unknown parameter */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            500: components["responses"]["Internal"];
            503: components["responses"]["DatabaseUnavailable"];
        };
    };
    create_backtest: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CreateBacktestRequest"];
            };
        };
        responses: {
            /** @description Queued */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["BacktestView"];
                };
            };
            400: components["responses"]["InvalidJson"];
            401: components["responses"]["Unauthorized"];
            /** @description `account_not_found`; `algorithm_not_found` */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            413: components["responses"]["PayloadTooLarge"];
            /** @description `validation_failed` (`parameters.<key>`, `sweep.<key>`, or a field of the request); `invalid_combination` (`from` not before `to`, a window over `BACKTEST_MAX_WINDOW_DAYS`, a grid over 256 combinations, `spread_points` without `fixed` or `larger`) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            429: components["responses"]["RateLimited"];
            500: components["responses"]["Internal"];
            503: components["responses"]["DatabaseUnavailable"];
        };
    };
    get_backtest: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The backtest's id */
                backtest_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The backtest */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["BacktestView"];
                };
            };
            401: components["responses"]["Unauthorized"];
            /** @description `backtest_not_found` */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description `validation_failed`: `backtest_id` is not a UUID */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            500: components["responses"]["Internal"];
            503: components["responses"]["DatabaseUnavailable"];
        };
    };
    delete_backtest: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The backtest's id */
                backtest_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Canceled */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["BacktestView"];
                };
            };
            /** @description Deleted */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            401: components["responses"]["Unauthorized"];
            /** @description `backtest_not_found` */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description `validation_failed`: `backtest_id` is not a UUID */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            500: components["responses"]["Internal"];
            503: components["responses"]["DatabaseUnavailable"];
        };
    };
    get_backtest_equity: {
        parameters: {
            query?: {
                /** @description A sweep's combination (default: the best). */
                combination?: number;
                /** @description Buckets at most, 1 to 10000 (default 1000); each keeps its lowest and highest equity. */
                points?: number;
            };
            header?: never;
            path: {
                /** @description The backtest's id */
                backtest_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The curve */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["EquityCurve"];
                };
            };
            401: components["responses"]["Unauthorized"];
            /** @description `backtest_not_found` */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description `validation_failed`: `backtest_id`, `points` or `combination` */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            500: components["responses"]["Internal"];
            503: components["responses"]["DatabaseUnavailable"];
        };
    };
    list_backtest_trades: {
        parameters: {
            query?: {
                /** @description A sweep's combination (default: the best). */
                combination?: number;
                /** @description `next_cursor` of the previous page (opaque; anything else is 422 naming `cursor`). */
                cursor?: string;
                /** @description 1 to 1000 (default 100). */
                limit?: number;
            };
            header?: never;
            path: {
                /** @description The backtest's id */
                backtest_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A page of trades */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["BacktestTradePage"];
                };
            };
            401: components["responses"]["Unauthorized"];
            /** @description `backtest_not_found` */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description `validation_failed`: `backtest_id`, `combination`, `limit` or `cursor` */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            500: components["responses"]["Internal"];
            503: components["responses"]["DatabaseUnavailable"];
        };
    };
    list_bots: {
        parameters: {
            query?: {
                /** @description Only this account's bots. */
                account_id?: string;
                /** @description `next_cursor` of the previous page (opaque; anything else is 422 naming `cursor`). */
                cursor?: string;
                /** @description 1 to 200 (default 50). */
                limit?: number;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A page of bots */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["BotPage"];
                };
            };
            401: components["responses"]["Unauthorized"];
            /** @description `validation_failed`: a bad `account_id`, `limit` or `cursor`, or an unknown parameter */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            500: components["responses"]["Internal"];
        };
    };
    create_bot: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CreateBotRequest"];
            };
        };
        responses: {
            /** @description The bot, running */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["BotView"];
                };
            };
            400: components["responses"]["InvalidJson"];
            401: components["responses"]["Unauthorized"];
            /** @description `account_not_found` (also another user's account); `algorithm_not_found`; `symbol_not_found` */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description `bot_limit_reached` (`BOTS_PER_USER`, `BOTS_PER_ACCOUNT`); `bot_symbol_taken` (a netting account's symbol another bot trades); `account_credentials_invalid` */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            413: components["responses"]["PayloadTooLarge"];
            /** @description `validation_failed` (`name`, `parameters.<key>`, …); `invalid_combination`; `live_confirmation_required` (a live account without `confirm_live`, unless `dry_run`) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            429: components["responses"]["RateLimited"];
            500: components["responses"]["Internal"];
            503: components["responses"]["TerminalUnavailable"];
            504: components["responses"]["TerminalTimeout"];
        };
    };
    get_bot: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The bot's id */
                bot_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The bot */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["BotView"];
                };
            };
            401: components["responses"]["Unauthorized"];
            /** @description `bot_not_found` (also another user's) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description `validation_failed`: `bot_id` is not a UUID */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            500: components["responses"]["Internal"];
        };
    };
    update_bot: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The bot's id */
                bot_id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["UpdateBotRequest"];
            };
        };
        responses: {
            /** @description The bot */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["BotView"];
                };
            };
            400: components["responses"]["InvalidJson"];
            401: components["responses"]["Unauthorized"];
            /** @description `bot_not_found` */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description `bot_state_conflict` (a stopped bot); `bot_symbol_taken` */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            413: components["responses"]["PayloadTooLarge"];
            /** @description `validation_failed` (`parameters.<key>`); `invalid_combination` */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            500: components["responses"]["Internal"];
        };
    };
    delete_bot: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The bot's id */
                bot_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Deleted */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Success"];
                };
            };
            401: components["responses"]["Unauthorized"];
            /** @description `bot_not_found` */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description `bot_state_conflict`: stop the bot first */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description `validation_failed`: `bot_id` is not a UUID */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            500: components["responses"]["Internal"];
        };
    };
    pause_bot: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The bot's id */
                bot_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The bot, paused */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["BotView"];
                };
            };
            401: components["responses"]["Unauthorized"];
            /** @description `bot_not_found` */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description `bot_state_conflict`: the bot is stopped */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description `validation_failed`: `bot_id` is not a UUID */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            500: components["responses"]["Internal"];
        };
    };
    replay_bot: {
        parameters: {
            query?: {
                /** @description The first bar (default: the bot's first recorded pass). */
                from?: components["schemas"]["TimeInput"];
                /** @description Recorded passes per call: 1 to 10000 (default 10000); `next_from` continues. */
                limit?: number;
                /** @description The last bar (default: now). */
                to?: components["schemas"]["TimeInput"];
            };
            header?: never;
            path: {
                /** @description The bot's id */
                bot_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The passes re-evaluated and those that differ */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ReplayResult"];
                };
            };
            401: components["responses"]["Unauthorized"];
            /** @description `bot_not_found`; `account_not_found` (its account was deleted) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            409: components["responses"]["CredentialsInvalid"];
            /** @description `validation_failed`: a bad `bot_id`, `from`, `to` or `limit` */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            429: components["responses"]["RateLimited"];
            500: components["responses"]["Internal"];
            503: components["responses"]["TerminalUnavailable"];
            504: components["responses"]["TerminalTimeout"];
        };
    };
    resume_bot: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The bot's id */
                bot_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The bot, running */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["BotView"];
                };
            };
            401: components["responses"]["Unauthorized"];
            /** @description `bot_not_found` */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description `bot_state_conflict`: the bot is stopped; `bot_symbol_taken`: on a netting account another bot took the symbol */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description `validation_failed`: `bot_id` is not a UUID */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            500: components["responses"]["Internal"];
        };
    };
    stop_bot: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The bot's id */
                bot_id: string;
            };
            cookie?: never;
        };
        /** @description Optional */
        requestBody: {
            content: {
                "application/json": components["schemas"]["StopBotRequest"];
            };
        };
        responses: {
            /** @description The bot, stopped */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["BotView"];
                };
            };
            400: components["responses"]["InvalidJson"];
            401: components["responses"]["Unauthorized"];
            /** @description `bot_not_found` */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            409: components["responses"]["CredentialsInvalid"];
            /** @description `validation_failed` */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            500: components["responses"]["Internal"];
            503: components["responses"]["TerminalUnavailable"];
            504: components["responses"]["TerminalTimeout"];
        };
    };
    kill_switch: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description Optional */
        requestBody: {
            content: {
                "application/json": components["schemas"]["KillSwitchRequest"];
            };
        };
        responses: {
            /** @description The bots paused */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["KillSwitchResult"];
                };
            };
            400: components["responses"]["InvalidJson"];
            401: components["responses"]["Unauthorized"];
            /** @description `account_not_found` */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description `validation_failed` */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            500: components["responses"]["Internal"];
        };
    };
    history_deals: {
        parameters: {
            query?: {
                /**
                 * @description `next_cursor` of the previous page: an opaque string that keeps the first page's window,
                 *     so items that arrive between pages are on none of them and none is repeated or skipped.
                 *     Valid only on the same route and account; anything else (an old numeric offset, a garbled
                 *     string, and even a well-formed cursor the service did not issue) is 422
                 *     `validation_failed` naming `cursor`.
                 */
                cursor?: string;
                /**
                 * @description RFC 3339 or epoch seconds (default 24 hours before `to`). With a `cursor`: left out, or
                 *     equal to the window of the cursor's first page (else 422 naming `from`).
                 */
                from?: components["schemas"]["TimeInput"];
                /** @description 1 to 1000 (default 100). */
                limit?: number;
                /**
                 * @description RFC 3339 or epoch seconds (default now, as of the first page). With a `cursor`: left out,
                 *     or equal to the window of the cursor's first page (else 422 naming `to`).
                 */
                to?: components["schemas"]["TimeInput"];
            };
            header?: {
                /**
                 * @description One of the user's accounts (another's is `404 account_not_found`); when absent, the current
                 *     account (the last switch), else the default.
                 */
                "X-Account-Id"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A page of deals */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["DealPage"];
                };
            };
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NoAccountToActOn"];
            409: components["responses"]["CredentialsInvalid"];
            422: components["responses"]["TradingReadInvalid"];
            500: components["responses"]["Internal"];
            503: components["responses"]["TerminalUnavailable"];
            504: components["responses"]["TerminalTimeout"];
        };
    };
    history_orders: {
        parameters: {
            query?: {
                /**
                 * @description `next_cursor` of the previous page: an opaque string that keeps the first page's window,
                 *     so items that arrive between pages are on none of them and none is repeated or skipped.
                 *     Valid only on the same route and account; anything else (an old numeric offset, a garbled
                 *     string, and even a well-formed cursor the service did not issue) is 422
                 *     `validation_failed` naming `cursor`.
                 */
                cursor?: string;
                /**
                 * @description RFC 3339 or epoch seconds (default 24 hours before `to`). With a `cursor`: left out, or
                 *     equal to the window of the cursor's first page (else 422 naming `from`).
                 */
                from?: components["schemas"]["TimeInput"];
                /** @description 1 to 1000 (default 100). */
                limit?: number;
                /**
                 * @description RFC 3339 or epoch seconds (default now, as of the first page). With a `cursor`: left out,
                 *     or equal to the window of the cursor's first page (else 422 naming `to`).
                 */
                to?: components["schemas"]["TimeInput"];
            };
            header?: {
                /**
                 * @description One of the user's accounts (another's is `404 account_not_found`); when absent, the current
                 *     account (the last switch), else the default.
                 */
                "X-Account-Id"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A page of orders */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["HistoryOrderPage"];
                };
            };
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NoAccountToActOn"];
            409: components["responses"]["CredentialsInvalid"];
            422: components["responses"]["TradingReadInvalid"];
            500: components["responses"]["Internal"];
            503: components["responses"]["TerminalUnavailable"];
            504: components["responses"]["TerminalTimeout"];
        };
    };
    journal: {
        parameters: {
            query?: {
                /** @description Only this account's entries. */
                account_id?: string;
                /** @description `next_cursor` of the previous page (opaque; anything else is 422 naming `cursor`). */
                cursor?: string;
                /** @description 1 to 500 (default 50). */
                limit?: number;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A page of entries */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["JournalPage"];
                };
            };
            401: components["responses"]["Unauthorized"];
            /** @description `validation_failed`: a bad `account_id`, `limit` or `cursor` */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            500: components["responses"]["Internal"];
        };
    };
    journal_entry: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The entry's id (`details.journal_id` of an order's error) */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The entry */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["JournalEntryEnvelope"];
                };
            };
            401: components["responses"]["Unauthorized"];
            /** @description `journal_entry_not_found` (also another user's entry) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description `validation_failed`: `id` is not a UUID */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            500: components["responses"]["Internal"];
            503: components["responses"]["DatabaseUnavailable"];
        };
    };
    list_orders: {
        parameters: {
            query?: {
                /** @description Only this symbol's. */
                symbol?: string;
            };
            header?: {
                /**
                 * @description One of the user's accounts (another's is `404 account_not_found`); when absent, the current
                 *     account (the last switch), else the default.
                 */
                "X-Account-Id"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The pending orders */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["OrderList"];
                };
            };
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NoAccountToActOn"];
            409: components["responses"]["CredentialsInvalid"];
            422: components["responses"]["TradingReadInvalid"];
            500: components["responses"]["Internal"];
            503: components["responses"]["TerminalUnavailable"];
            504: components["responses"]["TerminalTimeout"];
        };
    };
    place_order: {
        parameters: {
            query?: never;
            header?: {
                /** @description Up to 255 characters: the same key returns the first response and sends nothing. */
                "Idempotency-Key"?: string;
                /** @description One of the user's accounts; when absent, the current account, else the default. */
                "X-Account-Id"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["PlaceOrderRequest"];
            };
        };
        responses: {
            /** @description MT5 accepted it (a repeated `Idempotency-Key` replays the first response) */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["OrderSendResult"];
                };
            };
            400: components["responses"]["InvalidJson"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["TradingDisabledOrReadOnly"];
            /** @description `account_not_found` (`X-Account-Id` names no account of the user's); `no_account` (none to act on); `symbol_not_found` */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            409: components["responses"]["InProgressOrCredentialsInvalid"];
            413: components["responses"]["PayloadTooLarge"];
            /** @description `validation_failed` (`risk_limits.<key>` when the account's stored limits are invalid); `invalid_combination` (a pending order without `price`, a stop-limit order without `stoplimit`, `type_time` `specified`/`specified_day` without `expiration`); `trade_rejected` (MT5's `retcode`, `retcode_name`, `comment` in `details`); `risk_limit_exceeded` (the limit and its numbers in `details`); `idempotency_key_reused`; `mt5_login_failed` */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            429: components["responses"]["RateLimited"];
            500: components["responses"]["Internal"];
            503: components["responses"]["TerminalUnavailable"];
            504: components["responses"]["TerminalTimeout"];
        };
    };
    modify_order: {
        parameters: {
            query?: never;
            header?: {
                /** @description Up to 255 characters: the same key returns the first response and sends nothing. */
                "Idempotency-Key"?: string;
                /** @description One of the user's accounts; when absent, the current account, else the default. */
                "X-Account-Id"?: string;
            };
            path: {
                /** @description The pending order's ticket */
                ticket: number;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ModifyOrderRequest"];
            };
        };
        responses: {
            /** @description MT5 accepted it, `changed` false when there was nothing to change (a repeated `Idempotency-Key` replays the first response) */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ModifyResult"];
                };
            };
            400: components["responses"]["InvalidJson"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["TradingDisabledOrReadOnly"];
            /** @description `account_not_found` (`X-Account-Id` names no account of the user's); `no_account` (none to act on); `order_not_found` */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            409: components["responses"]["InProgressOrCredentialsInvalid"];
            413: components["responses"]["PayloadTooLarge"];
            /** @description `validation_failed`; `trade_rejected` (MT5's `retcode`, `retcode_name`, `comment` in `details`); `idempotency_key_reused`; `mt5_login_failed` */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            429: components["responses"]["RateLimited"];
            500: components["responses"]["Internal"];
            503: components["responses"]["TerminalUnavailable"];
            504: components["responses"]["TerminalTimeout"];
        };
    };
    cancel_order: {
        parameters: {
            query?: never;
            header?: {
                /** @description Up to 255 characters: the same key returns the first response and sends nothing. */
                "Idempotency-Key"?: string;
                /** @description One of the user's accounts; when absent, the current account, else the default. */
                "X-Account-Id"?: string;
            };
            path: {
                /** @description The pending order's ticket */
                ticket: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description MT5 accepted it (a repeated `Idempotency-Key` replays the first response) */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["OrderSendResult"];
                };
            };
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["TradingDisabledOrReadOnly"];
            /** @description `account_not_found` (`X-Account-Id` names no account of the user's); `no_account` (none to act on); `order_not_found` */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            409: components["responses"]["InProgressOrCredentialsInvalid"];
            /** @description `validation_failed`; `trade_rejected` (MT5's `retcode`, `retcode_name`, `comment` in `details`); `idempotency_key_reused`; `mt5_login_failed` */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            429: components["responses"]["RateLimited"];
            500: components["responses"]["Internal"];
            503: components["responses"]["TerminalUnavailable"];
            504: components["responses"]["TerminalTimeout"];
        };
    };
    check_order: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description One of the user's accounts (another's is `404 account_not_found`); when absent, the current
                 *     account (the last switch), else the default.
                 */
                "X-Account-Id"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["PlaceOrderRequest"];
            };
        };
        responses: {
            /** @description MT5's check (retcode 0: it would pass) */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["OrderCheckResult"];
                };
            };
            400: components["responses"]["InvalidJson"];
            401: components["responses"]["Unauthorized"];
            /** @description `account_not_found` (`X-Account-Id` names no account of the user's); `no_account` (none to act on); `symbol_not_found` */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            409: components["responses"]["CredentialsInvalid"];
            413: components["responses"]["PayloadTooLarge"];
            /** @description `validation_failed`; `invalid_combination` (as for `POST /orders`); `mt5_login_failed` */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            500: components["responses"]["Internal"];
            503: components["responses"]["TerminalUnavailable"];
            504: components["responses"]["TerminalTimeout"];
        };
    };
    list_positions: {
        parameters: {
            query?: {
                /** @description Only this symbol's. */
                symbol?: string;
            };
            header?: {
                /**
                 * @description One of the user's accounts (another's is `404 account_not_found`); when absent, the current
                 *     account (the last switch), else the default.
                 */
                "X-Account-Id"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The open positions */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["PositionList"];
                };
            };
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NoAccountToActOn"];
            409: components["responses"]["CredentialsInvalid"];
            422: components["responses"]["TradingReadInvalid"];
            500: components["responses"]["Internal"];
            503: components["responses"]["TerminalUnavailable"];
            504: components["responses"]["TerminalTimeout"];
        };
    };
    modify_position: {
        parameters: {
            query?: never;
            header?: {
                /** @description Up to 255 characters: the same key returns the first response and sends nothing. */
                "Idempotency-Key"?: string;
                /** @description One of the user's accounts; when absent, the current account, else the default. */
                "X-Account-Id"?: string;
            };
            path: {
                /** @description The position's ticket */
                ticket: number;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ModifyPositionRequest"];
            };
        };
        responses: {
            /** @description MT5 accepted it, `changed` false when there was nothing to change (a repeated `Idempotency-Key` replays the first response) */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ModifyResult"];
                };
            };
            400: components["responses"]["InvalidJson"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["TradingDisabledOrReadOnly"];
            /** @description `account_not_found` (`X-Account-Id` names no account of the user's); `no_account` (none to act on); `position_not_found` */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            409: components["responses"]["InProgressOrCredentialsInvalid"];
            413: components["responses"]["PayloadTooLarge"];
            /** @description `validation_failed`; `trade_rejected` (MT5's `retcode`, `retcode_name`, `comment` in `details`); `idempotency_key_reused`; `mt5_login_failed` */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            429: components["responses"]["RateLimited"];
            500: components["responses"]["Internal"];
            503: components["responses"]["TerminalUnavailable"];
            504: components["responses"]["TerminalTimeout"];
        };
    };
    close_position: {
        parameters: {
            query?: never;
            header?: {
                /** @description Up to 255 characters: the same key returns the first response and sends nothing. */
                "Idempotency-Key"?: string;
                /** @description One of the user's accounts; when absent, the current account, else the default. */
                "X-Account-Id"?: string;
            };
            path: {
                /** @description The position's ticket */
                ticket: number;
            };
            cookie?: never;
        };
        /** @description Optional: without a body the whole position closes */
        requestBody?: {
            content: {
                "application/json": null | components["schemas"]["ClosePositionRequest"];
            };
        };
        responses: {
            /** @description MT5 accepted it (a repeated `Idempotency-Key` replays the first response) */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["OrderSendResult"];
                };
            };
            400: components["responses"]["InvalidJson"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["TradingDisabledOrReadOnly"];
            /** @description `account_not_found` (`X-Account-Id` names no account of the user's); `no_account` (none to act on); `position_not_found` */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            409: components["responses"]["InProgressOrCredentialsInvalid"];
            413: components["responses"]["PayloadTooLarge"];
            /** @description `validation_failed`; `trade_rejected` (MT5's `retcode`, `retcode_name`, `comment` in `details`); `idempotency_key_reused`; `mt5_login_failed` */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            429: components["responses"]["RateLimited"];
            500: components["responses"]["Internal"];
            503: components["responses"]["TerminalUnavailable"];
            504: components["responses"]["TerminalTimeout"];
        };
    };
    stream: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Switching to the WebSocket protocol */
            101: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            401: components["responses"]["Unauthorized"];
            /** @description `upgrade_required`: not a WebSocket upgrade request */
            426: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            429: components["responses"]["RateLimited"];
            500: components["responses"]["Internal"];
            /** @description `too_many_connections`: `STREAM_MAX_PENDING` streams are waiting for their sign-in; `redis_unavailable`: `REDIS_URL` is set and Redis does not answer (open streams are counted there). `Retry-After: 1` */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    list_symbols: {
        parameters: {
            query?: {
                /** @description MT5's group filter, e.g. `*USD*`. */
                group?: string;
            };
            header?: {
                /**
                 * @description One of the user's accounts (another's is `404 account_not_found`); when absent, the current
                 *     account (the last switch), else the default.
                 */
                "X-Account-Id"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The symbols */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SymbolList"];
                };
            };
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NoAccountToActOn"];
            409: components["responses"]["CredentialsInvalid"];
            422: components["responses"]["TradingReadInvalid"];
            500: components["responses"]["Internal"];
            503: components["responses"]["TerminalUnavailable"];
            504: components["responses"]["TerminalTimeout"];
        };
    };
    get_symbol: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description One of the user's accounts (another's is `404 account_not_found`); when absent, the current
                 *     account (the last switch), else the default.
                 */
                "X-Account-Id"?: string;
            };
            path: {
                /** @description As the broker names it, e.g. EURUSD */
                symbol: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The symbol */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SymbolInfo"];
                };
            };
            401: components["responses"]["Unauthorized"];
            /** @description `account_not_found` (`X-Account-Id` names no account of the user's); `no_account` (none to act on); `symbol_not_found` */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            409: components["responses"]["CredentialsInvalid"];
            422: components["responses"]["TradingReadInvalid"];
            500: components["responses"]["Internal"];
            503: components["responses"]["TerminalUnavailable"];
            504: components["responses"]["TerminalTimeout"];
        };
    };
    get_rates: {
        parameters: {
            query?: {
                /** @description The latest bars, 1 to 10000 (default 100); not with `from`/`to`. */
                count?: number;
                /** @description RFC 3339 or epoch seconds. */
                from?: components["schemas"]["TimeInput"];
                /** @description `M1` … `MN1` (default `H1`). */
                timeframe?: components["schemas"]["TimeframeInput"];
                /** @description RFC 3339 or epoch seconds (default now). */
                to?: components["schemas"]["TimeInput"];
            };
            header?: {
                /**
                 * @description One of the user's accounts (another's is `404 account_not_found`); when absent, the current
                 *     account (the last switch), else the default.
                 */
                "X-Account-Id"?: string;
            };
            path: {
                /** @description As the broker names it, e.g. EURUSD */
                symbol: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The bars */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RateList"];
                };
            };
            401: components["responses"]["Unauthorized"];
            /** @description `account_not_found` (`X-Account-Id` names no account of the user's); `no_account` (none to act on); `symbol_not_found` */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            409: components["responses"]["CredentialsInvalid"];
            422: components["responses"]["TradingReadInvalid"];
            500: components["responses"]["Internal"];
            503: components["responses"]["TerminalUnavailable"];
            504: components["responses"]["TerminalTimeout"];
        };
    };
    get_tick: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description One of the user's accounts (another's is `404 account_not_found`); when absent, the current
                 *     account (the last switch), else the default.
                 */
                "X-Account-Id"?: string;
            };
            path: {
                /** @description As the broker names it, e.g. EURUSD */
                symbol: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The last tick */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Tick"];
                };
            };
            401: components["responses"]["Unauthorized"];
            /** @description `account_not_found` (`X-Account-Id` names no account of the user's); `no_account` (none to act on); `symbol_not_found` */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            409: components["responses"]["CredentialsInvalid"];
            422: components["responses"]["TradingReadInvalid"];
            500: components["responses"]["Internal"];
            503: components["responses"]["TerminalUnavailable"];
            504: components["responses"]["TerminalTimeout"];
        };
    };
    asyncapi_document: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The AsyncAPI 3.0 document of `GET /api/v1/stream` */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        [key: string]: unknown;
                    };
                };
            };
            500: components["responses"]["Internal"];
        };
    };
    healthz: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Always, while the process runs */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Health"];
                };
            };
        };
    };
    metrics: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The metrics */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/plain": string;
                };
            };
            401: components["responses"]["Unauthorized"];
        };
    };
    openapi_document: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The OpenAPI 3.1 document */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        [key: string]: unknown;
                    };
                };
            };
            500: components["responses"]["Internal"];
        };
    };
    readyz: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Ready to serve */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Readiness"];
                };
            };
            /** @description Not ready; the failing check says `failed` */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Readiness"];
                };
            };
        };
    };
}
