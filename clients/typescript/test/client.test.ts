// What the seed's frontend does, through the client, against a running service: connect an
// account, list, switch, place and close an order, run an algorithm as a dry run, and receive the
// order's stream event. Plus: the committed types are those the service's document gives.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import WebSocket from "ws";
import { ApiError, BridgeStream, createBridgeClient, isOrderCall, ok, type StreamEvent } from "../src/index.js";
import type { SocketConstructor } from "../src/stream.js";
import { startService, type Service } from "./server.js";
// @ts-expect-error: a plain ES module of the package's own scripts, without types
import { generate } from "../../scripts/schema.mjs";
// @ts-expect-error: a plain ES module of the package's own scripts, without types
import { generateStream } from "../../scripts/stream.mjs";

let service: Service;

before(async () => {
  service = await startService();
});

after(() => service?.stop());

test("the committed types are generated from the document the service serves", async () => {
  const doc = await (await fetch(`${service.baseUrl}/openapi.json`)).json();
  const fresh: string = await generate(doc);
  const committed = await readFile(new URL("../../src/schema.ts", import.meta.url), "utf8");
  assert.ok(
    fresh === committed,
    "src/schema.ts differs from the service's /openapi.json: run `npm run generate -- <url>/openapi.json`",
  );
});

test("the committed stream types are generated from the AsyncAPI document the service serves", async () => {
  const openapi = await (await fetch(`${service.baseUrl}/openapi.json`)).json();
  const asyncapi = await (await fetch(`${service.baseUrl}/asyncapi.json`)).json();
  const fresh: string = generateStream(asyncapi, openapi);
  const committed = await readFile(new URL("../../src/stream-messages.ts", import.meta.url), "utf8");
  assert.ok(
    fresh === committed,
    "src/stream-messages.ts differs from the service's /asyncapi.json: run `npm run generate -- <url>/openapi.json`",
  );
});

test("order calls get an Idempotency-Key, other calls do not", () => {
  assert.equal(isOrderCall("POST", "http://h/api/v1/orders"), true);
  assert.equal(isOrderCall("POST", "http://h/api/v1/positions/7/close"), true);
  assert.equal(isOrderCall("PUT", "http://h/api/v1/orders/7"), true);
  assert.equal(isOrderCall("POST", "http://h/api/v1/orders/check"), false);
  assert.equal(isOrderCall("GET", "http://h/api/v1/orders"), false);
});

test("the seed's flow, typed end to end, with the order's stream event", async () => {
  const token = service.token();
  const api = createBridgeClient({ baseUrl: service.baseUrl, token });

  const connected = await ok(
    api.POST("/api/v1/accounts/connect", {
      body: {
        account_name: "Demo",
        login: "10001",
        password: "Sim-10001!",
        server: "Sim-Demo",
        account_type: "demo",
        set_as_default: true,
      },
    }),
  );
  assert.equal(connected.success, true);
  const second = await ok(
    api.POST("/api/v1/accounts/connect", {
      body: { account_name: "Second", login: 10002, password: "Sim-10002!", server: "Sim-Demo" },
    }),
  );
  const list = await ok(api.GET("/api/v1/accounts"));
  assert.deepEqual(
    list.accounts.map((a) => a.id).sort(),
    [connected.account_id, second.account_id].sort(),
  );
  const switched = await ok(
    api.POST("/api/v1/accounts/{account_id}/switch", {
      params: { path: { account_id: connected.account_id } },
    }),
  );
  assert.equal(switched.account.login, 10001);

  // The stream, as a browser would open it (auth by message), with `ws` as the WebSocket.
  const events: StreamEvent[] = [];
  const stream = new BridgeStream({
    baseUrl: service.baseUrl,
    token: () => token,
    WebSocket: WebSocket as unknown as SocketConstructor,
    onEvent: (e) => events.push(e),
  });
  stream.subscribe("orders", "orders", connected.account_id);
  await new Promise((r) => setTimeout(r, 500));

  const placed = await ok(
    api.POST("/api/v1/orders", { body: { symbol: "EURUSD", type: "buy", volume: 0.01 } }),
  );
  assert.equal(placed.retcode, 10009);
  const positions = await ok(api.GET("/api/v1/positions"));
  const position = positions.positions.find((p) => p.identifier === placed.order);
  assert.ok(position, "the order opened a position");
  const closed = await ok(
    api.POST("/api/v1/positions/{ticket}/close", { params: { path: { ticket: position.ticket } } }),
  );
  assert.equal(closed.retcode, 10009);

  const run = await ok(
    api.POST("/api/v1/algorithms/execute", {
      body: {
        account_id: connected.account_id,
        algorithm_id: "ma_crossover",
        parameters: { symbol: "EURUSD" },
        dry_run: true,
      },
    }),
  );
  assert.equal(run.dry_run, true);

  const deadline = Date.now() + 5_000;
  const placedEvent = () =>
    events.find((e) => e.channel === "orders" && e.data.order === placed.order && e.data.status === "done");
  while (!placedEvent() && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  stream.close();
  const event = placedEvent();
  assert.ok(event, `no stream event for order ${placed.order}: ${JSON.stringify(events)}`);
  assert.equal(event.account_id, connected.account_id);

  // A refusal is an ApiError with a documented code.
  await assert.rejects(
    ok(api.POST("/api/v1/orders", { body: { symbol: "EURUSD", type: "buy_limit", volume: 0.01 } })),
    (e: unknown) => e instanceof ApiError && e.status === 422 && e.code === "invalid_combination",
  );
});
