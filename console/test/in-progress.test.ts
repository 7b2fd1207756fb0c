// An order still running when its retry arrives: the service answers `409 request_in_progress`
// for the submission's own key, which the ticket shows as "order in progress" (never a failure)
// and then follows on the `orders` stream until the entry is done. The simulated trade server is
// made slow (MT5_SIM_ORDER_LATENCY_MS) so that the first request outlives the retry's wait. The 409
// names the journal entry (`details.journal_id`): the ticket reads it once and follows it by its id.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { Browser } from "playwright-core";
import { guardedPage, launchBrowser } from "./browser.js";
import { rows, seeText, until } from "./helpers.js";
import { apiCall, connect, startService, type Service } from "./server.js";

let service: Service;
let browser: Browser;

before(async () => {
  [service, browser] = await Promise.all([startService({ MT5_SIM_ORDER_LATENCY_MS: "11500" }), launchBrowser()]);
});

after(async () => {
  await browser?.close();
  service?.stop();
});

test("a retry of an order still running shows 'order in progress' and follows it to its execution", async () => {
  const token = service.token();
  await connect(service, token, 1);
  const g = await guardedPage(browser, [service.baseUrl]);
  g.expectFailing(/\/api\/v1\/orders$/);
  await g.page.goto(`${service.baseUrl}/console/positions#access_token=${token}&token_type=bearer`);
  await seeText(g.page, "No open position.");
  let lost = false;
  await g.page.route("**/api/v1/orders", async (route) => {
    if (route.request().method() !== "POST" || lost) return route.continue();
    lost = true;
    void route.fetch().catch(() => undefined); // the order goes on at the service…
    await route.abort("connectionreset"); // …while the page hears nothing back
  });
  const conflicts: Promise<{ error: { code: string; details?: { journal_id?: string } } }>[] = [];
  g.page.on("response", (r) => {
    if (r.request().method() === "POST" && r.url().endsWith("/api/v1/orders") && r.status() === 409) conflicts.push(r.json());
  });
  const ticket = g.page.getByRole("form", { name: "Order ticket" });
  await ticket.getByRole("button", { name: "Buy", exact: true }).click();
  await seeText(g.page, /The service could not be reached/);
  await ticket.getByRole("button", { name: "Retry order" }).click();
  await seeText(g.page, /^Order in progress \((pending|unknown)\)/, 14_000);
  assert.equal(await g.page.locator(".error").filter({ hasText: /\S/ }).count(), 0, "not shown as a failure");
  assert.ok(await ticket.getByRole("button", { name: /Buy|Retry/ }).isDisabled(), "no new submission meanwhile");
  // The answer named the journal entry: it is read once, and followed on the stream by its id.
  assert.equal(conflicts.length, 1, "one 409 request_in_progress");
  const { error } = await conflicts[0]!;
  assert.equal(error.code, "request_in_progress");
  const journalId = error.details?.journal_id;
  assert.match(journalId ?? "", /^[0-9a-f-]{36}$/, "the 409 carries details.journal_id");
  await until("the entry read once", () => g.requests.some((r) => r.method() === "GET" && new URL(r.url()).pathname === `/api/v1/journal/${journalId}`));
  await seeText(g.page, /Order executed: \d+/, 20_000);
  assert.equal(
    g.requests.filter((r) => new URL(r.url()).pathname.startsWith("/api/v1/journal/")).length,
    1,
    "read once, then followed on the stream",
  );
  await until("the position", async () => (await rows(g.page, "positions")).length === 1);
  const { positions } = await apiCall<{ positions: unknown[] }>(service, token, "GET", "/api/v1/positions");
  assert.equal(positions.length, 1);
  await g.done();
});
