// The stream client against a running service: it comes back by itself after the service
// restarts (backing off meanwhile), authenticates and subscribes again; it renews a short-lived
// token before the server would close for it; and `ticks` arrive typed.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { BridgeStream, createBridgeClient, ok, type StreamEvent } from "../src/index.js";
import type { SocketConstructor, SocketLike } from "../src/stream.js";
import { startService, type Service } from "./server.js";

let service: Service;

before(async () => {
  service = await startService();
});

after(() => service?.stop());

/** `ws`, counting the connections opened through it. */
function countingSocket(): { WebSocket: SocketConstructor; opened: () => number } {
  let opened = 0;
  class Counting extends (WebSocket as unknown as new (url: string) => SocketLike) {
    constructor(url: string) {
      super(url);
      opened += 1;
    }
  }
  return { WebSocket: Counting as unknown as SocketConstructor, opened: () => opened };
}

async function until(what: string, cond: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A new user with the simulator's account 10001 connected: their token and the account's id. */
async function trader(user = crypto.randomUUID()): Promise<{ user: string; token: string; account: string }> {
  const token = service.token(user);
  const api = createBridgeClient({ baseUrl: service.baseUrl, token });
  const connected = await ok(
    api.POST("/api/v1/accounts/connect", {
      body: { account_name: "Main", login: "10001", password: "Sim-10001!", server: "Sim-Demo" },
    }),
  );
  return { user, token, account: connected.account_id };
}

async function placeOrder(token: string): Promise<number> {
  const api = createBridgeClient({ baseUrl: service.baseUrl, token });
  const placed = await ok(
    api.POST("/api/v1/orders", { body: { symbol: "EURUSD", type: "buy", volume: 0.01 } }),
  );
  return placed.order;
}

test("after the service restarts the stream reconnects with backoff, re-authenticates and re-subscribes", async () => {
  const { token, account } = await trader();
  const socket = countingSocket();
  const events: StreamEvent[] = [];
  const subscribed: string[] = [];
  const closes: number[] = [];
  let readies = 0;
  const stream = new BridgeStream({
    baseUrl: service.baseUrl,
    token: () => token,
    WebSocket: socket.WebSocket,
    onEvent: (e) => events.push(e),
    onReady: () => (readies += 1),
    onSubscribed: (_id, accountId) => subscribed.push(accountId ?? ""),
    onClose: (code) => closes.push(code),
    backoffMs: 100,
    maxBackoffMs: 800,
  });
  try {
    stream.subscribe("orders", "orders");
    await until("the first subscription", () => subscribed.length === 1);
    assert.equal(subscribed[0], account);

    await service.restart();
    await until("the subscription after the restart", () => subscribed.length === 2);
    assert.equal(readies, 2);
    assert.equal(subscribed[1], account, "the same account, resolved again");
    assert.ok(closes.length >= 1, "the restart closed the first connection");
    // While the service was down the client backed off (100, 200, 400, 800, 800… ms) instead
    // of retrying in a loop: a restart of a few seconds takes a handful of attempts.
    assert.ok(socket.opened() >= 2 && socket.opened() <= 12, `${socket.opened()} connections`);

    const order = await placeOrder(token);
    await until("the order's event on the new connection", () =>
      events.some((e) => e.channel === "orders" && e.data.order === order),
    );
  } finally {
    stream.close();
  }
});

test("a short-lived token is renewed on the open connection before it expires", async () => {
  const { user, token } = await trader();
  const socket = countingSocket();
  const events: StreamEvent[] = [];
  const closes: number[] = [];
  const errors: string[] = [];
  let readies = 0;
  const stream = new BridgeStream({
    baseUrl: service.baseUrl,
    // Each token lives 3 s: the server closes the stream (4001 token_expired) unless renewed.
    token: () => service.token(user, "3s"),
    WebSocket: socket.WebSocket,
    onEvent: (e) => events.push(e),
    onReady: () => (readies += 1),
    onClose: (code) => closes.push(code),
    onError: (e) => errors.push(e.code),
  });
  try {
    stream.subscribe("orders", "orders");
    await new Promise((r) => setTimeout(r, 6_500));
    assert.deepEqual(closes, [], "the connection stayed open past two token lifetimes");
    assert.deepEqual(errors, []);
    assert.equal(socket.opened(), 1);
    assert.ok(readies >= 3, `${readies} ready answers: the first and one per renewal`);
    const order = await placeOrder(token);
    await until("the order's event", () =>
      events.some((e) => e.channel === "orders" && e.data.order === order),
    );
  } finally {
    stream.close();
  }
});

test("ticks arrive typed, for the subscribed symbols only", async () => {
  const { token, account } = await trader();
  const ticks: Extract<StreamEvent, { channel: "ticks" }>[] = [];
  const stream = new BridgeStream({
    baseUrl: service.baseUrl,
    token: () => token,
    WebSocket: WebSocket as unknown as SocketConstructor,
    onEvent: (e) => {
      if (e.channel === "ticks") ticks.push(e);
    },
  });
  try {
    stream.subscribeTicks("quotes", ["EURUSD", "GBPUSD"]);
    await until("ticks of both symbols", () => new Set(ticks.map((t) => t.data.symbol)).size === 2);
    for (const t of ticks) {
      assert.equal(t.id, "quotes");
      assert.equal(t.account_id, account);
      assert.ok(["EURUSD", "GBPUSD"].includes(t.data.symbol));
      assert.ok(t.data.bid > 0 && t.data.bid < t.data.ask, JSON.stringify(t.data));
      assert.ok(t.data.time_msc && !Number.isNaN(Date.parse(t.data.time_msc)), JSON.stringify(t.data));
    }
  } finally {
    stream.close();
  }
});
