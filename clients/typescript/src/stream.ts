// The live stream (GET /api/v1/stream, docs/streaming.md): authenticates with its first message
// (so it works in browsers, which cannot set headers on a WebSocket), re-authenticates before the
// token expires, reconnects with backoff and subscribes again. Give it a WebSocket constructor:
// the browser's `WebSocket`, or the `ws` package's in Node (Node 20 has no global WebSocket).
import type {
  ClientMessage,
  ServerMessage,
  StreamError,
  StreamEvent,
  StreamStatus,
  StreamSubscribe,
} from "./stream-messages.js";

// The messages' types are generated from the service's /asyncapi.json (src/stream-messages.ts).
export type * from "./stream-messages.js";

export type StreamChannel = StreamSubscribe["channel"];

/** The part of a WebSocket this client uses (the browser's and `ws`'s both have it). */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

export type SocketConstructor = new (url: string) => SocketLike;

export interface StreamOptions {
  /** `http(s)://` or `ws(s)://` base of the service. */
  baseUrl: string;
  /** The current token; called at each (re)connection and before the token expires. */
  token: () => string | Promise<string>;
  WebSocket: SocketConstructor;
  onEvent?: (event: StreamEvent) => void;
  onError?: (error: StreamError) => void;
  onStatus?: (status: StreamStatus) => void;
  /**
   * A subscription is on (again, after a reconnection), for `accountId`: no backlog is sent, so
   * re-read here what may have changed meanwhile (GET /api/v1/journal for `orders`). `accountId`
   * is absent for a `backtests` or `bots` subscription made for every account of the user's.
   */
  onSubscribed?: (id: string, accountId: string | undefined) => void;
  /** Each time the connection closes, with the server's code (4001, 4008, 4029, …), before reconnecting. */
  onClose?: (code: number, reason: string) => void;
  /** Each time the stream is ready (again): re-read what may have changed meanwhile here. */
  onReady?: (userId: string) => void;
  /** Backoff between reconnections, in ms (doubled up to `maxBackoffMs`). */
  backoffMs?: number;
  maxBackoffMs?: number;
}

interface Wanted {
  channel: StreamChannel;
  accountId?: string;
  symbols?: string[];
}

/** Seconds left before a JWT's `exp`, or undefined when it has none that can be read. */
function secondsLeft(token: string): number | undefined {
  try {
    const part = (token.split(".")[1] ?? "").replace(/-/g, "+").replace(/_/g, "/");
    const payload = JSON.parse(atob(part)) as { exp?: number };
    return typeof payload.exp === "number" ? payload.exp - Date.now() / 1000 : undefined;
  } catch {
    return undefined;
  }
}

export class BridgeStream {
  private socket?: SocketLike;
  private readonly wanted = new Map<string, Wanted>();
  private closed = false;
  private backoff: number;
  private renew?: ReturnType<typeof setTimeout>;
  private ready = false;

  constructor(private readonly options: StreamOptions) {
    this.backoff = options.backoffMs ?? 500;
    void this.connect();
  }

  /** Subscribes (again after every reconnection) under `id`. */
  subscribe(id: string, channel: Exclude<StreamChannel, "ticks">, accountId?: string): void {
    this.want(id, { channel, accountId });
  }

  /** Subscribes to the quotes of `symbols` (1 to 50) on the account's server. */
  subscribeTicks(id: string, symbols: string[], accountId?: string): void {
    this.want(id, { channel: "ticks", accountId, symbols: [...symbols] });
  }

  private want(id: string, w: Wanted): void {
    this.wanted.set(id, w);
    if (this.ready) {
      this.sendSubscribe(id);
    }
  }

  unsubscribe(id: string): void {
    this.wanted.delete(id);
    if (this.ready) {
      this.send({ type: "unsubscribe", id });
    }
  }

  /** Closes for good (no reconnection). */
  close(): void {
    this.closed = true;
    clearTimeout(this.renew);
    this.socket?.close(1000, "bye");
  }

  private url(): string {
    return `${this.options.baseUrl.replace(/^http/, "ws").replace(/\/+$/, "")}/api/v1/stream`;
  }

  private sendSubscribe(id: string): void {
    const w = this.wanted.get(id);
    if (!w) return;
    const msg: StreamSubscribe = { type: "subscribe", id, channel: w.channel };
    if (w.accountId) msg.account_id = w.accountId;
    if (w.symbols) msg.symbols = w.symbols;
    this.send(msg);
  }

  private send(msg: ClientMessage, socket: SocketLike | undefined = this.socket): void {
    socket?.send(JSON.stringify(msg));
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const socket = new this.options.WebSocket(this.url());
    this.socket = socket;
    this.ready = false;
    socket.onopen = async () => {
      const token = await this.options.token();
      this.send({ type: "auth", token }, socket);
      this.scheduleRenewal(token);
    };
    socket.onmessage = (ev) => this.receive(String(ev.data));
    socket.onerror = () => {};
    socket.onclose = (ev) => {
      this.ready = false;
      clearTimeout(this.renew);
      this.options.onClose?.(ev.code, ev.reason);
      if (this.closed) return;
      const wait = this.backoff;
      this.backoff = Math.min(this.backoff * 2, this.options.maxBackoffMs ?? 30_000);
      setTimeout(() => void this.connect(), wait);
    };
  }

  /** Sends a fresh token a minute before this one expires (or halfway, for short ones). */
  private scheduleRenewal(token: string): void {
    clearTimeout(this.renew);
    const left = secondsLeft(token);
    if (left === undefined) return;
    const inMs = Math.max(1_000, Math.min((left - 60) * 1000, (left * 1000) / 2));
    this.renew = setTimeout(async () => {
      const fresh = await this.options.token();
      this.send({ type: "auth", token: fresh });
      this.scheduleRenewal(fresh);
    }, inMs);
  }

  private receive(text: string): void {
    let msg: ServerMessage;
    try {
      msg = JSON.parse(text) as ServerMessage;
    } catch {
      return;
    }
    switch (msg.type) {
      case "ready":
        if (!this.ready) {
          this.ready = true;
          this.backoff = this.options.backoffMs ?? 500;
          for (const id of this.wanted.keys()) this.sendSubscribe(id);
        }
        this.options.onReady?.(msg.user_id);
        break;
      case "event":
        this.options.onEvent?.(msg);
        break;
      case "error":
        this.options.onError?.(msg);
        break;
      case "subscribed":
        this.options.onSubscribed?.(msg.id, msg.account_id);
        break;
      case "status":
        this.options.onStatus?.(msg);
        break;
      default:
        break;
    }
  }
}
