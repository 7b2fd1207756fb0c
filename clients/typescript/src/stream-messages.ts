// Generated from mt5-bridge's /asyncapi.json by scripts/generate.mjs (scripts/stream.mjs); do not edit.
import type { components } from "./schema.js";

/** A change on a subscription: `seq` increases by one with every event of the connection. `positions` and `account` carry the whole body of GET /api/v1/positions and GET /api/v1/account: on subscribe, after each of the account's orders completes, and when a poll every STREAM_POLL_MS (from a terminal already on the account and idle) finds it changed. `ticks` carries one symbol's last quote (times as GET /api/v1/symbols/{symbol}/tick gives them) when it changed, at most every 250 ms per symbol, read from any terminal logged in to an account of that server */
export type StreamEvent = {
  type: "event";
  account_id: string;
  channel: "orders";
  data: components["schemas"]["JournalEntry"];
  /** The client's name for the subscription, unique on the connection */
  id: string;
  seq: number;
} | {
  type: "event";
  account_id: string;
  channel: "runs";
  data: components["schemas"]["AlgorithmRun"];
  /** The client's name for the subscription, unique on the connection */
  id: string;
  seq: number;
} | {
  type: "event";
  account_id: string;
  channel: "positions";
  data: components["schemas"]["PositionList"];
  /** The client's name for the subscription, unique on the connection */
  id: string;
  seq: number;
} | {
  type: "event";
  account_id: string;
  channel: "account";
  data: components["schemas"]["AccountInfo"];
  /** The client's name for the subscription, unique on the connection */
  id: string;
  seq: number;
} | {
  type: "event";
  account_id: string;
  channel: "ticks";
  data: StreamTick;
  /** The client's name for the subscription, unique on the connection */
  id: string;
  seq: number;
} | {
  type: "event";
  account_id: string;
  channel: "backtests";
  data: components["schemas"]["BacktestView"];
  /** The client's name for the subscription, unique on the connection */
  id: string;
  seq: number;
} | {
  type: "event";
  account_id: string;
  channel: "bots";
  data: components["schemas"]["BotView"];
  /** The client's name for the subscription, unique on the connection */
  id: string;
  seq: number;
};

export type StreamTick = {
  ask: number;
  bid: number;
  last: number;
  symbol: string;
  /** Trade-server epoch seconds; the API writes RFC 3339 UTC, null for 0. */
  time: string | null;
  /** Trade-server epoch milliseconds; the API writes RFC 3339 UTC with milliseconds, null for 0. */
  time_msc: string | null;
};

/** Authenticate (the first message without an Authorization header), or renew the token */
export type StreamAuth = {
  type: "auth";
  /** A Supabase JWT of the same user (`sub`) on renewal */
  token: string;
};

/** A message refused (`id` names its subscription), or why the stream closes: the HTTP API's codes, plus `token_expired`; `rate_limited` at 50 subscriptions (scope `subscriptions_per_connection`) or past the user's distinct ticks symbols (scope `symbols_per_user`); `account_not_found` naming each subscription of an account that was deleted */
export type StreamError = {
  type: "error";
  code: components["schemas"]["ErrorCode"] | "token_expired";
  message: string;
  details?: { [key: string]: unknown } | null;
  /** The client's name for the subscription, unique on the connection */
  id?: string;
};

/** Authenticated (also after a renewal) */
export type StreamReady = {
  type: "ready";
  user_id: string;
};

/** A `ticks` subscription waits: no terminal is logged in to an account of that server now (said once per wait; the next tick event ends it) */
export type StreamStatus = {
  type: "status";
  /** The client's name for the subscription, unique on the connection */
  id: string;
  state: "waiting_for_terminal";
};

/** Subscribe to a channel of one of the user's accounts */
export type StreamSubscribe = {
  type: "subscribe";
  channel: "orders" | "runs" | "positions" | "account" | "ticks" | "backtests" | "bots";
  /** The client's name for the subscription, unique on the connection */
  id: string;
  /** Default: the current account */
  account_id?: string;
  /** Required for `ticks`, refused on the other channels */
  symbols?: string[];
};

/** The subscription is on, for this account (or, `backtests` and `bots` without `account_id`, for all of the user's) */
export type StreamSubscribed = {
  type: "subscribed";
  /** The client's name for the subscription, unique on the connection */
  id: string;
  account_id?: string;
};

/** End a subscription */
export type StreamUnsubscribe = {
  type: "unsubscribe";
  /** The client's name for the subscription, unique on the connection */
  id: string;
};

/** The subscription is off */
export type StreamUnsubscribed = {
  type: "unsubscribed";
  /** The client's name for the subscription, unique on the connection */
  id: string;
};

/** Every message the client sends. */
export type ClientMessage = StreamAuth | StreamSubscribe | StreamUnsubscribe;

/** Every message the server sends. */
export type ServerMessage = StreamReady | StreamSubscribed | StreamUnsubscribed | StreamError | StreamEvent | StreamStatus;
