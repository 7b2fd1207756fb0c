// The console's state: who is signed in, the chosen account, and what the stream last said about
// it. Screens read it with `useStore`; every call goes through the project's typed client and every
// live table through its `BridgeStream` (no polling).
import {
  ApiError,
  BridgeStream,
  createBridgeClient,
  ok,
  type BridgeClient,
  type components,
  type JournalEntry,
  type StreamEvent,
} from "@mt5-bridge/client";
import { useEffect, useRef, useState } from "preact/hooks";
import { currentToken, expiresAt } from "./auth.js";
import { describe } from "./errors.js";

export type AccountSummary = components["schemas"]["AccountSummary"];
export type AccountInfo = components["schemas"]["AccountInfo"];
export type TradePosition = components["schemas"]["TradePosition"];
export type TradeOrder = components["schemas"]["TradeOrder"];

export type StreamState = "off" | "connecting" | "live" | "reconnecting" | "too_many";

export interface Toast {
  id: number;
  text: string;
  kind: "info" | "error";
}

export interface State {
  signedIn: boolean;
  /** Why the sign-in is shown (an expired or refused token, an error fragment). */
  signInReason?: string;
  accounts: AccountSummary[] | undefined;
  accountsError?: string;
  accountId: string | undefined;
  /** The chosen account is not one of the user's (a stale or foreign id in the address). */
  accountMissing: boolean;
  summary: AccountInfo | undefined;
  summaryAt: number | undefined;
  positions: TradePosition[] | undefined;
  orders: TradeOrder[] | undefined;
  /** Why positions, pending orders or the account could not be read (shown where they would be). */
  readErrors: Partial<Record<"positions" | "orders" | "account", string>>;
  journal: JournalEntry[];
  journalCursor: string | null;
  stream: StreamState;
  banners: Record<string, string>;
  toasts: Toast[];
  /** Bumped on every (re)subscription: screens re-read what they show. */
  epoch: number;
}

export const state: State = {
  signedIn: false,
  accounts: undefined,
  accountId: undefined,
  accountMissing: false,
  summary: undefined,
  summaryAt: undefined,
  positions: undefined,
  orders: undefined,
  readErrors: {},
  journal: [],
  journalCursor: null,
  stream: "off",
  banners: {},
  toasts: [],
  epoch: 0,
};

const listeners = new Set<() => void>();

export function update(patch: Partial<State>): void {
  Object.assign(state, patch);
  for (const l of [...listeners]) l();
}

export function useStore(): State {
  const [, force] = useState(0);
  useEffect(() => {
    const l = () => force((n) => n + 1);
    listeners.add(l);
    return () => void listeners.delete(l);
  }, []);
  return state;
}

let client: BridgeClient | undefined;

/** The typed client, sending `X-Account-Id` of the chosen account on every call. */
export function api(): BridgeClient {
  if (!client) {
    client = createBridgeClient({ baseUrl: location.origin, token: currentToken, accountId: state.accountId });
  }
  return client;
}

let toastSeq = 0;
export function toast(text: string, kind: Toast["kind"] = "info"): void {
  const t = { id: ++toastSeq, text, kind };
  update({ toasts: [...state.toasts, t].slice(-4) });
  setTimeout(() => update({ toasts: state.toasts.filter((x) => x.id !== t.id) }), kind === "error" ? 10_000 : 5_000);
}

let onExpired: ((reason: string) => void) | undefined;
export function whenExpired(f: (reason: string) => void): void {
  onExpired = f;
}

/** Codes shown as banners over every screen until they stop. */
const BANNER_CODES = new Set(["terminal_trading_disabled", "account_credentials_invalid"]);

/**
 * The data of a call, or its refusal thrown as an `ApiError`; a `401` brings the sign-in back and
 * the banner codes raise their banner.
 */
export async function call<T>(p: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  try {
    const data = await ok(p);
    return data;
  } catch (e) {
    if (e instanceof ApiError) {
      if (e.status === 401) {
        onExpired?.("Your sign-in expired or was refused by the service. Sign in again to go on.");
      } else if (BANNER_CODES.has(e.code)) {
        update({ banners: { ...state.banners, [e.code]: describe(e).text } });
      }
    }
    throw e;
  }
}

export function clearBanner(code: string): void {
  const b = { ...state.banners };
  delete b[code];
  update({ banners: b });
}

let urlAccountUnchecked = false;

export async function loadAccounts(): Promise<void> {
  try {
    const { accounts } = await call(api().GET("/api/v1/accounts"));
    const known = !!state.accountId && accounts.some((a) => a.id === state.accountId);
    const fromUrl = urlAccountUnchecked;
    urlAccountUnchecked = false;
    if (known || (fromUrl && state.accountId)) {
      // An id in the address that is not one of the user's is "not found", never replaced silently.
      update({ accounts, accountsError: undefined, accountMissing: !known });
      return;
    }
    update({ accounts, accountsError: undefined, accountMissing: false });
    const chosen = accounts.find((a) => a.is_default) ?? accounts[0];
    if (chosen?.id !== state.accountId) chooseAccount(chosen?.id, false);
  } catch (e) {
    update({ accountsError: describe(e).text });
  }
}

function wantedFromUrl(): string | undefined {
  return new URLSearchParams(location.search).get("account") ?? undefined;
}

/** Chooses the account every call and subscription names; kept in the address (`?account=`). */
export function chooseAccount(id: string | undefined, fromUser = true): void {
  const url = new URL(location.href);
  if (id) url.searchParams.set("account", id);
  else url.searchParams.delete("account");
  history.replaceState(history.state, "", url.pathname + url.search);
  client = undefined;
  const missing = !!id && !!state.accounts && !state.accounts.some((a) => a.id === id);
  update({
    accountId: id,
    accountMissing: missing,
    summary: undefined,
    summaryAt: undefined,
    positions: undefined,
    orders: undefined,
    readErrors: {},
    journal: [],
    journalCursor: null,
    banners: {},
  });
  if (fromUser || state.signedIn) restartStream();
}

export function initialAccountFromUrl(): void {
  state.accountId = wantedFromUrl();
  urlAccountUnchecked = !!state.accountId;
}

// ---- the stream -------------------------------------------------------------------------

let stream: BridgeStream | undefined;
let tickWatchers = new Map<string, (bid: number, ask: number, time: string) => void>();
let tickSymbol: string | undefined;
const channel = typeof BroadcastChannel === "function" ? new BroadcastChannel("mt5-console") : undefined;

export function stopStream(): void {
  stream?.close();
  stream = undefined;
  if (state.stream !== "off") update({ stream: "off" });
}

export function restartStream(): void {
  stream?.close();
  stream = undefined;
  if (!state.signedIn || !state.accountId || state.accountMissing) {
    update({ stream: "off" });
    return;
  }
  const account = state.accountId;
  update({ stream: "connecting" });
  const s = new BridgeStream({
    baseUrl: location.origin,
    token: currentToken,
    WebSocket: WebSocket as unknown as ConstructorParameters<typeof BridgeStream>[0]["WebSocket"],
    backoffMs: 500,
    maxBackoffMs: 4_000,
    // A stream being replaced (another account chosen) may still deliver a message: ignored.
    onReady: () => stream === s && update({ stream: "live" }),
    onSubscribed: (id) => {
      if (stream === s && isUserChannel(id)) {
        // No backlog here either: each screen watching the channel re-reads what it shows.
        for (const w of [...userWatchers[id]]) w.subscribed();
      }
      if (stream === s && id === "orders") {
        // No backlog on the stream: re-read what the tables show.
        void refreshOrders();
        update({ epoch: state.epoch + 1 });
      }
    },
    onEvent: (e) => {
      if (stream !== s) return;
      if (e.channel === "bots" || e.channel === "backtests") {
        // Subscribed for every account of the user's: each screen keeps what it shows.
        for (const w of [...userWatchers[e.channel]]) (w as UserWatcher<typeof e.channel>).event(e.data as never);
        return;
      }
      if (e.account_id !== account) return;
      switch (e.channel) {
        case "account":
          update({ summary: e.data, summaryAt: Date.now(), readErrors: { ...state.readErrors, account: undefined } });
          break;
        case "positions":
          update({ positions: e.data.positions, readErrors: { ...state.readErrors, positions: undefined } });
          break;
        case "orders":
          upsertJournal(e.data);
          if (e.data.status !== "pending") void refreshOrders();
          break;
        case "ticks":
          for (const w of tickWatchers.values()) w(e.data.bid, e.data.ask, e.data.time ?? "");
          break;
        default:
          break;
      }
    },
    onError: (err) => {
      if (stream !== s) return;
      if (err.code === "token_expired" || err.code === "unauthorized") return;
      if (err.code === "rate_limited" && !err.id) return;
      // The ticket shows "waiting for the quote" for a symbol without one.
      if (err.id === "quotes") return;
      if (err.code === "account_not_found") {
        update({ accountMissing: true });
        return;
      }
      const text = describe(new ApiError(0, err.code as never, err.message, err.details)).text;
      if (BANNER_CODES.has(err.code)) {
        update({ banners: { ...state.banners, [err.code]: text } });
      }
      if (err.id === "positions" || err.id === "account") {
        update({ readErrors: { ...state.readErrors, [err.id]: text } });
      } else if (!BANNER_CODES.has(err.code)) {
        toast(`Live updates: ${text}`, "error");
      }
    },
    onClose: (code) => {
      if (stream !== s) return;
      if (code === 4001) {
        s.close();
        stream = undefined;
        onExpired?.("Your sign-in expired. Sign in again to go on.");
        return;
      }
      update({ stream: code === 4029 ? "too_many" : "reconnecting" });
    },
  });
  stream = s;
  s.subscribe("account", "account", account);
  s.subscribe("positions", "positions", account);
  s.subscribe("orders", "orders", account);
  if (tickSymbol) s.subscribeTicks("quotes", [tickSymbol], account);
  for (const c of USER_CHANNELS) if (userWatchers[c].size) s.subscribe(c, c);
}

// ---- channels of every account of the user's (`bots`, `backtests`) -------------------------

const USER_CHANNELS = ["bots", "backtests"] as const;
export type UserChannel = (typeof USER_CHANNELS)[number];
export type UserChannelData<C extends UserChannel> = Extract<StreamEvent, { channel: C }>["data"];

export interface UserWatcher<C extends UserChannel> {
  /** One changed item, exactly as its GET shows it. */
  event: (data: UserChannelData<C>) => void;
  /** The subscription is on (again, after a reconnection): re-read what is shown. */
  subscribed: () => void;
}

const userWatchers: { [C in UserChannel]: Set<UserWatcher<C>> } = { bots: new Set(), backtests: new Set() };

function isUserChannel(id: string): id is UserChannel {
  return (USER_CHANNELS as readonly string[]).includes(id);
}

/**
 * Follows a channel of every account of the user's while a screen shows it: subscribed (under the
 * channel's own name) with the first watcher, unsubscribed when the last one leaves.
 */
export function watchUserChannel<C extends UserChannel>(channel: C, w: UserWatcher<C>): () => void {
  const set = userWatchers[channel] as Set<UserWatcher<C>>;
  set.add(w);
  if (set.size === 1) stream?.subscribe(channel, channel);
  return () => {
    set.delete(w);
    if (set.size === 0) stream?.unsubscribe(channel);
  };
}

// A tab refused for too many streams tries again as soon as another tab closes its own.
channel?.addEventListener("message", (e) => {
  if (e.data === "stream-closed" && state.stream === "too_many") restartStream();
});
addEventListener("pagehide", () => {
  if (stream) {
    stream.close();
    stream = undefined;
    channel?.postMessage("stream-closed");
  }
});

/** Quotes of one symbol for the order ticket (the latest watcher's symbol wins). */
let tickDrop: ReturnType<typeof setTimeout> | undefined;
export function watchTicks(key: string, symbol: string | undefined, f: (bid: number, ask: number, time: string) => void): () => void {
  tickWatchers.set(key, f);
  clearTimeout(tickDrop);
  if (symbol !== tickSymbol) {
    const before = tickSymbol;
    tickSymbol = symbol;
    if (stream) {
      if (before) stream.unsubscribe("quotes");
      if (symbol) stream.subscribeTicks("quotes", [symbol], state.accountId);
    }
  }
  return () => {
    tickWatchers.delete(key);
    // Kept a moment: a screen that re-renders watches the same symbol again at once.
    clearTimeout(tickDrop);
    tickDrop = setTimeout(() => {
      if (tickWatchers.size === 0 && tickSymbol) {
        tickSymbol = undefined;
        stream?.unsubscribe("quotes");
      }
    }, 2_000);
  };
}

export function resetTickWatchers(): void {
  tickWatchers = new Map();
  tickSymbol = undefined;
}

function upsertJournal(entry: JournalEntry): void {
  const i = state.journal.findIndex((j) => j.id === entry.id);
  const journal = [...state.journal];
  if (i >= 0) journal[i] = entry;
  else journal.unshift(entry);
  update({ journal });
  for (const w of journalWatchers) w(entry);
}

const journalWatchers = new Set<(e: JournalEntry) => void>();
export function watchJournal(f: (e: JournalEntry) => void): () => void {
  journalWatchers.add(f);
  return () => void journalWatchers.delete(f);
}

export async function refreshOrders(): Promise<void> {
  const account = state.accountId;
  if (!account) return;
  try {
    const { orders } = await call(api().GET("/api/v1/orders"));
    // An answer for the account shown before the switcher moved is dropped.
    if (state.accountId === account) update({ orders, readErrors: { ...state.readErrors, orders: undefined } });
  } catch (e) {
    if (state.accountId === account) update({ readErrors: { ...state.readErrors, orders: describe(e).text } });
  }
}

/** The journal of the chosen account, first page, re-read after every (re)subscription. */
export async function refreshJournal(): Promise<void> {
  const account = state.accountId;
  if (!account) return;
  const { entries, next_cursor } = await call(
    api().GET("/api/v1/journal", { params: { query: { account_id: account, limit: 50 } } }),
  );
  if (state.accountId === account) update({ journal: entries, journalCursor: next_cursor });
}

export async function moreJournal(): Promise<void> {
  const account = state.accountId;
  if (!account || !state.journalCursor) return;
  const { entries, next_cursor } = await call(
    api().GET("/api/v1/journal", {
      params: { query: { account_id: account, limit: 50, cursor: state.journalCursor } },
    }),
  );
  if (state.accountId !== account) return;
  const known = new Set(state.journal.map((j) => j.id));
  update({ journal: [...state.journal, ...entries.filter((e) => !known.has(e.id))], journalCursor: next_cursor });
}

export function tokenExpiry(token: string): number | undefined {
  return expiresAt(token);
}

/** `watchUserChannel` for as long as the component is shown (the latest callbacks are called). */
export function useUserChannel<C extends UserChannel>(channel: C, event: (data: UserChannelData<C>) => void, subscribed: () => void): void {
  const latest = useRef({ event, subscribed });
  latest.current = { event, subscribed };
  useEffect(
    () =>
      watchUserChannel(channel, {
        event: (d) => latest.current.event(d),
        subscribed: () => latest.current.subscribed(),
      }),
    [channel],
  );
}
