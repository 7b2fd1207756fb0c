// The console in a real Chromium against a real `serve` on the simulator: what a trader sees.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { MESSAGES, SCOPES } from "../src/messages.js";
import { axe, guardedPage, launchBrowser, screenshot, type Guarded } from "./browser.js";
import { heading, money, rows, seeText, sleep, textOf, until } from "./helpers.js";
import { apiCall, connect, login, SERVER, startService, type Service } from "./server.js";

let service: Service;
let browser: Browser;
let nextAccount = 1;
/** A simulator account no other test uses. */
const fresh = () => nextAccount++;

before(async () => {
  [service, browser] = await Promise.all([
    startService({ STREAM_MAX_CONNECTIONS_PER_USER: "2", SWITCH_LIMIT_PER_HOUR: "3", STREAM_POLL_MS: "250" }),
    launchBrowser(),
  ]);
});

after(async () => {
  await browser?.close();
  service?.stop();
});

const CSP = "default-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'";

async function page(options: Parameters<typeof guardedPage>[2] = {}): Promise<Guarded> {
  return guardedPage(browser, [service.baseUrl], options);
}

/** Opens `path` signed in through an implicit-flow fragment, as a Supabase redirect would. */
async function signedIn(g: Guarded, path: string, token: string): Promise<void> {
  await g.page.goto(`${service.baseUrl}${path}#access_token=${token}&refresh_token=r&expires_in=3600&token_type=bearer`);
}

/** A new user with one fresh simulator account connected. */
async function trader(): Promise<{ token: string; account: string; n: number; user: string }> {
  const user = crypto.randomUUID();
  const token = service.token(user);
  const n = fresh();
  const account = await connect(service, token, n);
  return { token, account, n, user };
}

async function streamLive(p: Page): Promise<void> {
  await until("the stream to be live", async () => (await textOf(p.locator(".stream-status"))) === "● Live");
}

function calls(g: Guarded, method: string, path: RegExp) {
  return g.requests.filter((r) => r.method() === method && path.test(new URL(r.url()).pathname));
}

async function eurusd(token: string): Promise<{ bid: number; ask: number }> {
  return apiCall(service, token, "GET", "/api/v1/symbols/EURUSD/tick");
}

test("served by the binary: headers, deep links, config.json, 404 for a missing asset", async () => {
  const index = await fetch(`${service.baseUrl}/console/`);
  assert.equal(index.status, 200);
  assert.equal(index.headers.get("content-security-policy"), CSP);
  assert.equal(index.headers.get("x-content-type-options"), "nosniff");
  assert.equal(index.headers.get("referrer-policy"), "no-referrer");
  assert.match(index.headers.get("content-type") ?? "", /^text\/html/);
  const html = await index.text();
  assert.match(html, /<div id="app">/);

  const deep = await fetch(`${service.baseUrl}/console/positions`);
  assert.equal(deep.status, 200);
  assert.equal(await deep.text(), html, "a deep link answers the page");
  assert.equal(deep.headers.get("content-security-policy"), CSP);

  // The page names its icon, which is there: no favicon request fails.
  const icon = html.match(/<link rel="icon"[^>]*href="([^"]+)"/)?.[1];
  assert.equal(icon, "/console/favicon.svg");
  const iconAnswer = await fetch(`${service.baseUrl}${icon}`);
  assert.equal(iconAnswer.status, 200);
  assert.equal(iconAnswer.headers.get("content-type"), "image/svg+xml");

  const missing = await fetch(`${service.baseUrl}/console/assets/nothing-here.js`);
  assert.equal(missing.status, 404);
  assert.equal(missing.headers.get("content-security-policy"), CSP);

  const config = await fetch(`${service.baseUrl}/console/config.json`);
  assert.equal(config.status, 200);
  assert.deepEqual(await config.json(), { supabase_url: null, supabase_publishable_key: null });

  const doc = (await (await fetch(`${service.baseUrl}/openapi.json`)).json()) as { paths: Record<string, unknown> };
  assert.ok(!Object.keys(doc.paths).some((p) => p.startsWith("/console")), "the console is not in the API document");

  // In the browser: the page, its script, style and icon all come from the service, and work under the CSP.
  const g = await page();
  await g.page.goto(`${service.baseUrl}/console/`);
  await heading(g.page, "Sign in to the mt5-bridge console");
  const origins = new Set(g.requests.map((r) => new URL(r.url()).origin));
  assert.deepEqual([...origins], [service.baseUrl]);
  assert.ok(g.requests.some((r) => /\/console\/assets\/index-.*\.js$/.test(r.url())));
  assert.ok(!g.requests.some((r) => /lightweight|charts-|Chart-|Backtests-/.test(r.url())), "the chart is loaded only where one is drawn");
  await screenshot(g.page, "sign-in");
  assert.deepEqual(await axe(g.page), []);
  await g.done();
});

test("sign-in with a pasted token (Enter submits); a deep link reloads to the same screen", async () => {
  const { token } = await trader();
  const g = await page();
  await g.page.goto(`${service.baseUrl}/console/journal`);
  await g.page.getByLabel("Access token", { exact: true }).fill(token);
  await g.page.getByLabel("Access token", { exact: true }).press("Enter");
  await heading(g.page, "Journal");
  assert.match(g.page.url(), /\/console\/journal\?account=/);
  await g.done();
});

test("sign-in by fragment: read once and removed from the address bar; an error fragment is shown", async () => {
  const { token } = await trader();
  const g = await page();
  await signedIn(g, "/console/history", token);
  await heading(g.page, "History");
  assert.ok(!g.page.url().includes("#"), `the fragment is gone: ${g.page.url()}`);
  assert.ok(!g.page.url().includes(token.slice(0, 20)));

  await g.page.goto(`${service.baseUrl}/console/#error=access_denied&error_code=otp_expired&error_description=Email+link+is+invalid+or+has+expired`);
  await seeText(g.page, "Sign-in failed: Email link is invalid or has expired");
  assert.ok(!g.page.url().includes("#"));
  await g.done();
});

test("a refused token brings the sign-in back with the reason", async () => {
  const { token } = await trader();
  const forged = token.replace(/\.[^.]+$/, ".c2lnbmF0dXJlLW9mLXNvbWVvbmUtZWxzZQ");
  const g = await page();
  g.expectFailing(/\/api\/v1\//);
  await signedIn(g, "/console/positions", forged);
  await seeText(g.page, "Your sign-in expired or was refused by the service. Sign in again to go on.");
  await heading(g.page, "Sign in to the mt5-bridge console");
  await g.done();
});

test("connect an account from the form: a wrong password's message, then the account with its default badge", async () => {
  const token = service.token();
  const n = fresh();
  const a = login(n);
  const g = await page();
  g.expectFailing(/\/accounts\/connect$/);
  await signedIn(g, "/console/accounts", token);
  await heading(g.page, "Accounts");
  await seeText(g.page, "You have no MT5 account yet");
  const form = g.page.getByRole("form", { name: "Connect an MT5 account" });
  await form.getByLabel("Account name").fill("My Demo Account");
  await form.getByLabel("Login").fill(a.login);
  await form.getByLabel("Password").fill("wrong-password");
  await form.getByLabel("Server").fill(SERVER);
  await form.getByRole("button", { name: "Connect" }).click();
  await seeText(g.page, /MT5 refused the login: check the login, password and server\./);

  await form.getByLabel("Password").fill(a.password);
  await form.getByRole("button", { name: "Connect" }).click();
  await g.page.locator("tbody tr", { hasText: "My Demo Account" }).waitFor();
  const [row] = await rows(g.page, "accounts");
  assert.match(row![0]!, /^My Demo Account Default/);
  assert.deepEqual(row!.slice(1, 3), [a.login, SERVER]);
  assert.equal(row![5], "Allowed");
  await streamLive(g.page);
  await screenshot(g.page, "accounts");
  assert.deepEqual(await axe(g.page), []);
  await g.done();
});

test("accounts: edit the name and risk limits, make another the default, remove one", async () => {
  const { token, account } = await trader();
  const second = await connect(service, token, fresh(), { name: "Second" });
  const g = await page();
  await signedIn(g, "/console/accounts", token);
  await until("two accounts", async () => (await rows(g.page, "accounts")).length === 2);

  await g.page.getByRole("button", { name: "Edit Second" }).click();
  const dialog = g.page.getByRole("dialog", { name: "Edit Second" });
  await dialog.getByLabel("Name").fill("Swing");
  await dialog.getByLabel("Max daily loss (fraction, e.g. 0.03)").fill("0.03");
  await dialog.getByLabel("Max open positions").fill("4");
  await dialog.getByRole("button", { name: "Save" }).click();
  await seeText(g.page, "Account saved.");
  const saved = await apiCall<{ account: { account_name: string; risk_limits: Record<string, unknown> } }>(
    service,
    token,
    "GET",
    `/api/v1/accounts/${second}`,
  );
  assert.equal(saved.account.account_name, "Swing");
  assert.deepEqual(saved.account.risk_limits, { max_daily_loss: 0.03, max_positions: 4 });

  // A value the service refuses is shown by its field, and nothing is saved.
  await g.page.getByRole("button", { name: "Edit Swing" }).click();
  await g.page.getByRole("dialog").getByLabel("Max daily loss (fraction, e.g. 0.03)").fill("3");
  g.expectFailing(/\/api\/v1\/accounts\//);
  await g.page.getByRole("dialog").getByRole("button", { name: "Save" }).click();
  await g.page.locator("#e-mdl-err").waitFor();
  await g.page.keyboard.press("Escape");
  await g.page.getByRole("dialog").waitFor({ state: "hidden" });

  await g.page.getByRole("button", { name: "Make Swing the default" }).click();
  await until("Swing is the default", async () => (await rows(g.page, "accounts")).some((r) => /^Swing Default/.test(r[0]!)));

  await g.page.getByRole("button", { name: "Remove Trader" }).click();
  await g.page.getByRole("dialog").getByRole("button", { name: "Remove" }).click();
  await until("one account", async () => (await rows(g.page, "accounts")).length === 1);
  const { accounts } = await apiCall<{ accounts: { id: string }[] }>(service, token, "GET", "/api/v1/accounts");
  assert.deepEqual(accounts.map((a) => a.id), [second]);
  assert.ok(!accounts.some((a) => a.id === account));
  await g.done();
});

test("with no position open the summary bar equals GET /api/v1/account, and shows when it was updated", async () => {
  const { token } = await trader();
  const g = await page();
  await signedIn(g, "/console/positions", token);
  const summary = g.page.getByTestId("summary");
  await summary.locator('[data-field="balance"] dd').waitFor();
  const info = await apiCall<{ balance: number; equity: number; margin: number; margin_free: number; profit: number; currency: string }>(
    service,
    token,
    "GET",
    "/api/v1/account",
  );
  const field = (k: string) => textOf(summary.locator(`[data-field="${k}"] dd`));
  assert.equal(await field("balance"), money(info.balance, info.currency));
  assert.equal(await field("equity"), money(info.equity, info.currency));
  assert.equal(await field("margin"), money(info.margin, info.currency));
  assert.equal(await field("margin_free"), money(info.margin_free, info.currency));
  assert.equal(await field("profit"), money(info.profit, info.currency));
  assert.equal(await field("margin_level"), "—");
  assert.match(await textOf(summary), /Updated \d/);
  assert.doesNotMatch(await textOf(summary), /stale/);
  // Nothing changes on an account without positions: no event, so after 10 s it is marked stale.
  await seeText(g.page, /stale \(no update for 1\d s\)/, 14_000);
  await g.done();
});

test("choosing an account sends X-Account-Id on every call and names it in every subscription", async () => {
  const { token } = await trader();
  const second = await connect(service, token, fresh(), { name: "Second" });
  const g = await page();
  const sent: string[] = [];
  g.page.on("websocket", (ws) => ws.on("framesent", (f) => sent.push(String(f.payload))));
  await signedIn(g, "/console/positions", token);
  await streamLive(g.page);
  await seeText(g.page, "No pending order.");
  await sleep(500); // what the first account's screen asked for has been answered
  const before = g.requests.length;
  await g.page.getByLabel("Account", { exact: true }).selectOption(second);
  await until("the choice in the address", () => g.page.url().includes(`account=${second}`));
  await streamLive(g.page);
  await g.page.getByRole("link", { name: "Journal" }).click();
  await heading(g.page, "Journal");
  const apiCalls = g.requests.slice(before).filter((r) => new URL(r.url()).pathname.startsWith("/api/v1/") && !r.url().includes("/stream"));
  assert.ok(apiCalls.length > 0);
  for (const r of apiCalls) assert.equal(r.headers()["x-account-id"], second, r.url());
  const subs = sent.map((s) => JSON.parse(s) as { type: string; account_id?: string }).filter((m) => m.type === "subscribe");
  const last = subs.slice(-3);
  assert.deepEqual(
    last.map((m) => m.account_id),
    [second, second, second],
  );
  assert.equal(calls(g, "POST", /\/switch$/).length, 0, "choosing an account is not a switch");
  await g.done();
});

test("a market order from the ticket: one POST despite a double-click, in positions from the stream; then closed", async () => {
  const { token } = await trader();
  const g = await page();
  await signedIn(g, "/console/positions", token);
  await seeText(g.page, "No open position.");
  await streamLive(g.page);
  await seeText(g.page, /Bid \d/);
  const ticket = g.page.getByRole("form", { name: "Order ticket" });
  await ticket.getByLabel("Volume (lots)").fill("0.02");
  await ticket.getByRole("button", { name: "Buy", exact: true }).dblclick();
  await until("the position in the table", async () => (await rows(g.page, "positions")).length === 1);
  const [row] = await rows(g.page, "positions");
  assert.equal(row![1], "EURUSD");
  assert.equal(row![2], "▲ Buy");
  assert.equal(row![3], "0.02");
  await seeText(g.page, /Order executed: \d+/);
  await sleep(500);
  const posts = calls(g, "POST", /^\/api\/v1\/orders$/);
  assert.equal(posts.length, 1, "exactly one order sent");
  assert.ok(posts[0]!.headers()["idempotency-key"], "the order carries its Idempotency-Key");
  assert.equal(calls(g, "GET", /^\/api\/v1\/positions$/).length, 0, "positions come from the stream");
  await screenshot(g.page, "trade");

  // SL/TP: set one, then the same again (MT5's "no changes" is a success).
  const bid = (await eurusd(token)).bid;
  const sl = (bid - 0.02).toFixed(5);
  for (const expected of [/Position \d+ modified\./, /the levels already were these/]) {
    await g.page.getByRole("button", { name: /^Modify SL\/TP/ }).click();
    await g.page.getByRole("dialog").getByLabel("Stop loss (empty: none)").fill(sl);
    await g.page.getByRole("dialog").getByRole("button", { name: "Save" }).click();
    await seeText(g.page, expected);
    await until("the SL in the table", async () => Number((await rows(g.page, "positions"))[0]?.[6]) === Number(sl));
  }
  assert.equal(calls(g, "GET", /^\/api\/v1\/positions$/).length, 0);

  await g.page.getByRole("button", { name: /^Close position/ }).click();
  await seeText(g.page, "No open position.");
  const positions = await apiCall<{ positions: unknown[] }>(service, token, "GET", "/api/v1/positions");
  assert.equal(positions.positions.length, 0);
  assert.equal(calls(g, "GET", /^\/api\/v1\/positions$/).length, 0);
  await g.done();
});

test("a pending order placed, modified (also with unchanged levels) and canceled", async () => {
  const { token } = await trader();
  const { bid } = await eurusd(token);
  const price1 = (bid - 0.01).toFixed(5);
  const price2 = (bid - 0.012).toFixed(5);
  const g = await page();
  await signedIn(g, "/console/positions", token);
  await seeText(g.page, "No pending order.");
  const ticket = g.page.getByRole("form", { name: "Order ticket" });
  await ticket.getByLabel("Type").selectOption("buy_limit");
  await ticket.getByLabel("Price").fill(price1);
  await ticket.getByRole("button", { name: "Place pending order" }).click();
  await seeText(g.page, /Pending order placed: \d+/);
  await until("the order in the table", async () => (await rows(g.page, "orders")).length === 1);
  let [row] = await rows(g.page, "orders");
  assert.equal(row![2], "▲ Buy limit");
  assert.equal(Number(row![4]), Number(price1));

  await g.page.getByRole("button", { name: /^Modify order/ }).click();
  const dialog = g.page.getByRole("dialog");
  await dialog.getByLabel("Price").fill(price2);
  await dialog.getByRole("button", { name: "Save" }).click();
  await seeText(g.page, /Order \d+ modified\./);
  await until("the new price", async () => Number((await rows(g.page, "orders"))[0]?.[4]) === Number(price2));

  await g.page.getByRole("button", { name: /^Modify order/ }).click();
  await g.page.getByRole("dialog").getByRole("button", { name: "Save" }).click();
  await seeText(g.page, /nothing to change, it already is so/);

  await g.page.getByRole("button", { name: /^Cancel order/ }).click();
  await seeText(g.page, "No pending order.");
  [row] = await rows(g.page, "orders");
  assert.equal(row, undefined);
  await g.done();
});

test("the journal updates live: an order placed elsewhere appears with its status, no reload", async () => {
  const { token } = await trader();
  const g = await page();
  await signedIn(g, "/console/journal", token);
  await heading(g.page, "Journal");
  await seeText(g.page, "No order yet on this account.");
  await streamLive(g.page);
  await sleep(700);
  const journalReads = calls(g, "GET", /^\/api\/v1\/journal$/).length;
  await apiCall(service, token, "POST", "/api/v1/orders", { symbol: "EURUSD", type: "sell", volume: 0.01 }, { "Idempotency-Key": crypto.randomUUID() });
  await until("the entry, done", async () => {
    const r = await rows(g.page, "journal");
    return r.length === 1 && r[0]![4] === "✓ done";
  });
  assert.equal(calls(g, "GET", /^\/api\/v1\/journal$/).length, journalReads, "from the stream, not a re-read");
  // Times in the browser's zone (the test's is Europe/Berlin), UTC on hover.
  const entries = await apiCall<{ entries: { created_at: string }[] }>(service, token, "GET", "/api/v1/journal");
  const created = new Date(entries.entries[0]!.created_at);
  const time = g.page.getByTestId("journal").locator("tbody time").first();
  assert.equal(await time.getAttribute("title"), `${created.toISOString().replace("T", " ").replace(/\.\d+Z$/, "")} UTC`);
  const berlin = new Intl.DateTimeFormat("en-GB", { timeZone: "Europe/Berlin", hour: "2-digit", minute: "2-digit", second: "2-digit" }).format(created);
  assert.ok((await textOf(time)).endsWith(berlin), `${await textOf(time)} is Berlin's ${berlin}`);
  await screenshot(g.page, "journal");
  assert.deepEqual(await axe(g.page), []);
  await g.done();
});

test("an algorithm's dry run shows its planned and skipped trades", async () => {
  const { token } = await trader();
  const g = await page();
  await signedIn(g, "/console/algorithms", token);
  await heading(g.page, "Algorithms");
  await g.page.getByLabel("symbol").waitFor();
  await g.page.getByRole("button", { name: "Dry run" }).click();
  const result = g.page.getByTestId("run-result");
  await result.waitFor();
  assert.match(await textOf(result.locator("h2")), /^Dry run: \d+ trade\(s\) planned, \d+ skipped$/);
  assert.equal(calls(g, "POST", /^\/api\/v1\/orders$/).length, 0);
  const entries = await apiCall<{ entries: unknown[] }>(service, token, "GET", "/api/v1/journal");
  assert.equal(entries.entries.length, 0, "a dry run sends nothing");
  await screenshot(g.page, "algorithms");
  assert.deepEqual(await axe(g.page), []);
  await g.done();
});

test("a live run asks for confirmation first; saved configurations are listed", async () => {
  const { token } = await trader();
  await apiCall(service, token, "POST", "/api/v1/algorithms", {
    name: "Fast EURUSD",
    kind: "ma_crossover",
    parameters: { symbol: "EURUSD", fast_period: 3, slow_period: 8 },
  });
  await apiCall(service, token, "POST", "/api/v1/algorithms", { name: "Slow RSI", kind: "rsi_reversion", parameters: { symbol: "EURUSD" } });
  const g = await page();
  await signedIn(g, "/console/algorithms", token);
  await heading(g.page, "Algorithms");
  await g.page.getByRole("table", { name: "Saved configurations" }).getByText("Fast EURUSD").waitFor();
  await until("both saved configurations", async () => (await g.page.getByRole("table", { name: "Saved configurations" }).locator("tbody tr").count()) === 2);
  await g.page.getByLabel("Algorithm", { exact: true }).selectOption({ label: "Fast EURUSD (ma_crossover)" });

  await g.page.getByRole("button", { name: "Run live…" }).click();
  await g.page.getByRole("dialog", { name: "Run live?" }).getByRole("button", { name: "Cancel" }).click();
  await g.page.getByRole("dialog").waitFor({ state: "hidden" });
  assert.equal(calls(g, "POST", /\/algorithms\/execute$/).length, 0, "nothing without the confirmation");

  await g.page.getByRole("button", { name: "Run live…" }).click();
  await g.page.getByRole("dialog", { name: "Run live?" }).getByRole("button", { name: "Yes, run live" }).click();
  const result = g.page.getByTestId("run-result");
  await result.waitFor();
  assert.match(await textOf(result.locator("h2")), /^Run: \d+ trade\(s\) placed, \d+ skipped$/);
  const [execute] = calls(g, "POST", /\/algorithms\/execute$/);
  const body = JSON.parse(execute!.postData() ?? "{}") as { dry_run: boolean; algorithm_id: string };
  assert.equal(body.dry_run, false);
  assert.notEqual(body.algorithm_id, "ma_crossover", "the saved configuration ran");
  await g.done();
});

test("errors are shown: a 422 by its field, a 429 with its wait, a read-only account's ticket disabled", async () => {
  const { token, account } = await trader();
  const other = await connect(service, token, fresh(), { name: "Other" });
  const g = await page();
  g.expectFailing(/\/api\/v1\/(orders|accounts\/.*\/switch)$/);
  await signedIn(g, "/console/positions", token);
  const ticket = g.page.getByRole("form", { name: "Order ticket" });
  await ticket.getByLabel("Volume (lots)").fill("0");
  await ticket.getByRole("button", { name: "Buy", exact: true }).click();
  const volumeError = g.page.locator("#t-volume-err");
  await volumeError.waitFor();
  assert.equal(await ticket.getByLabel("Volume (lots)").getAttribute("aria-invalid"), "true");
  assert.ok((await textOf(volumeError)).length > 0);
  await seeText(g.page, /Some fields are not valid\./);

  // SWITCH_LIMIT_PER_HOUR is 3: the fourth switch that changes the current account waits.
  const switcher = g.page.getByLabel("Account", { exact: true });
  const makeCurrent = g.page.getByRole("button", { name: "Make current" });
  for (const id of [other, account, other]) {
    await switcher.selectOption(id);
    await makeCurrent.click();
    const done = g.page.getByText("This account is now your current account.");
    await done.waitFor();
    await done.waitFor({ state: "detached", timeout: 10_000 });
  }
  await switcher.selectOption(account);
  await makeCurrent.click();
  await seeText(g.page, /Too many account switches this hour \(limit 3\)\. Try again in \d+ (s|min)\./);
  await g.done();

  const ro = service.token();
  await connect(service, ro, fresh(), { investor: true, name: "Investor" });
  const r = await page();
  await signedIn(r, "/console/positions", ro);
  await seeText(r.page, "This account is read-only (investor password): it cannot trade. Checks still work.");
  assert.ok(await r.page.getByRole("form", { name: "Order ticket" }).getByRole("button", { name: "Buy", exact: true }).isDisabled());
  await r.done();
});

test("an answer lost on the way: Retry order reuses the submission's key and the order runs once", async () => {
  const { token } = await trader();
  const g = await page();
  g.expectFailing(/\/api\/v1\/orders$/);
  await signedIn(g, "/console/positions", token);
  await seeText(g.page, "No open position.");
  let lost = false;
  await g.page.route("**/api/v1/orders", async (route) => {
    if (route.request().method() !== "POST" || lost) return route.continue();
    lost = true;
    await route.fetch(); // the service runs the order…
    await route.abort("connectionreset"); // …and its answer never reaches the page
  });
  const ticket = g.page.getByRole("form", { name: "Order ticket" });
  await ticket.getByRole("button", { name: "Buy", exact: true }).click();
  await seeText(g.page, /The service could not be reached/);
  await ticket.getByRole("button", { name: "Retry order" }).click();
  await seeText(g.page, /Order executed: \d+/);
  const posts = calls(g, "POST", /^\/api\/v1\/orders$/);
  assert.equal(posts.length, 2);
  assert.equal(posts[0]!.headers()["idempotency-key"], posts[1]!.headers()["idempotency-key"], "the retry reuses the key");
  await until("one position", async () => (await rows(g.page, "positions")).length === 1);
  const { positions } = await apiCall<{ positions: unknown[] }>(service, token, "GET", "/api/v1/positions");
  assert.equal(positions.length, 1, "the order ran once");
  // The next submission is a new one, with a new key.
  await ticket.getByRole("button", { name: "Buy", exact: true }).click();
  await until("two positions", async () => (await rows(g.page, "positions")).length === 2);
  const third = calls(g, "POST", /^\/api\/v1\/orders$/)[2]!;
  assert.notEqual(third.headers()["idempotency-key"], posts[0]!.headers()["idempotency-key"]);
  await g.done();
});

test("history pages through the service's cursors", async () => {
  const { token } = await trader();
  for (let i = 0; i < 21; i++) {
    await apiCall(service, token, "POST", "/api/v1/orders", { symbol: "EURUSD", type: i % 2 ? "sell" : "buy", volume: 0.01 });
  }
  const g = await page();
  await signedIn(g, "/console/history", token);
  await until("a full first page", async () => (await rows(g.page, "deals")).length === 20);
  const first = (await rows(g.page, "deals")).map((r) => r[1]);
  const next = g.page.getByRole("button", { name: "Next page" });
  assert.ok(await next.isEnabled());
  await next.click();
  await seeText(g.page, "Page 2");
  await until("the second page", async () => {
    const r = await rows(g.page, "deals");
    return r.length > 0 && r.length < 20;
  });
  const second = (await rows(g.page, "deals")).map((r) => r[1]);
  assert.ok(!second.some((t) => first.includes(t)), "no deal on two pages");
  assert.ok(await next.isDisabled(), "the last page");
  await g.page.getByRole("button", { name: "Previous page" }).click();
  await until("the first page again", async () => (await rows(g.page, "deals")).map((r) => r[1]).join() === first.join());
  await g.page.getByLabel("Orders").check();
  await until("the orders", async () => (await rows(g.page, "history-orders")).length === 20);
  await g.done();
});

test("a stored credential that cannot serve raises its banner; setting the password again clears it", async () => {
  const { token, account, n } = await trader();
  const other = await trader();
  // A row written outside the API: another row's ciphertext does not open for this one.
  // (python3's sqlite3: the test command needs python3 already, for the agent's tests.)
  execFileSync("python3", [
    "-c",
    "import sqlite3, sys; db = sqlite3.connect(sys.argv[1]); " +
      "db.execute('UPDATE mt5_accounts SET encrypted_password = (SELECT encrypted_password FROM mt5_accounts WHERE id = ?) WHERE id = ?', (sys.argv[2], sys.argv[3])); db.commit()",
    join(service.dataDir, "mt5-bridge.db"),
    other.account,
    account,
  ]);
  await service.restart(); // no terminal keeps a session of it
  const g = await page();
  g.expectFailing(/\/api\/v1\//);
  await signedIn(g, "/console/positions", token);
  const banner = g.page.locator('.banner[data-code="account_credentials_invalid"]');
  await banner.waitFor();
  assert.equal(await textOf(banner.locator("span")), "The stored password of this account no longer works. Set it again under Accounts.");
  await seeText(g.page, "Pending orders could not be read: The stored password of this account no longer works. Set it again under Accounts.");
  assert.equal(await g.page.locator(".toast.error").count(), 0, "said once, in the banner and where the data would be");
  await screenshot(g.page, "banner");

  await g.page.getByRole("link", { name: "Accounts" }).click();
  await g.page.getByRole("button", { name: /^Edit / }).click();
  await g.page.getByRole("dialog").getByLabel("New MT5 password (optional)").fill(login(n).password);
  await g.page.getByRole("dialog").getByRole("button", { name: "Save" }).click();
  await seeText(g.page, "Account saved.");
  assert.equal(await banner.count(), 0, "the banner goes with the fix");
  await g.page.getByRole("link", { name: "Trade" }).click();
  await seeText(g.page, "No pending order.");
  await seeText(g.page, "No open position.");
  const info = await apiCall<{ balance: number }>(service, token, "GET", "/api/v1/account");
  assert.equal(info.balance, 10000);
  assert.equal(await banner.count(), 0);
  await g.done();
});

test("terminals with trading switched off: the refusal is a banner over every screen", async () => {
  // The simulator switches Algo Trading off only from Rust, so the service's answer is stood in for.
  const { token } = await trader();
  const g = await page();
  g.expectFailing(/\/api\/v1\/orders$/);
  await signedIn(g, "/console/positions", token);
  await seeText(g.page, "No open position.");
  await g.page.route("**/api/v1/orders", (route) =>
    route.request().method() === "POST"
      ? route.fulfill({
          status: 503,
          contentType: "application/json",
          body: JSON.stringify({
            success: false,
            error: { code: "terminal_trading_disabled", message: "trading is disabled on every terminal", details: null },
          }),
        })
      : route.continue(),
  );
  await g.page.getByRole("form", { name: "Order ticket" }).getByRole("button", { name: "Buy", exact: true }).click();
  const banner = g.page.locator('.banner[data-code="terminal_trading_disabled"]');
  await banner.waitFor();
  assert.equal(await textOf(banner.locator("span")), "Trading is switched off on the terminals (Algo Trading off). Reads still work.");
  await g.page.getByRole("link", { name: "Journal" }).click();
  await heading(g.page, "Journal");
  assert.equal(await banner.count(), 1, "over every screen");
  await g.done();
});

test("the service killed and started again: the page reconnects without a reload, no duplicate rows", async () => {
  const { token } = await trader();
  await apiCall(service, token, "POST", "/api/v1/orders", { symbol: "EURUSD", type: "buy", volume: 0.01 });
  const g = await page();
  g.expectFailing(/\/api\/v1\//); // while the service is down, what the page asks for fails
  await signedIn(g, "/console/positions", token);
  await until("one position", async () => (await rows(g.page, "positions")).length === 1);
  await streamLive(g.page);
  let loads = 0;
  g.page.on("load", () => loads++);
  let reconnecting = false;
  const watching = setInterval(async () => {
    if (/Reconnecting…/.test(await textOf(g.page.locator(".stream-status")).catch(() => ""))) reconnecting = true;
  }, 50);
  await service.restart();
  await streamLive(g.page);
  clearInterval(watching);
  assert.ok(reconnecting, "the reconnecting state was shown");
  await apiCall(service, token, "POST", "/api/v1/orders", { symbol: "EURUSD", type: "sell", volume: 0.03 });
  await until("two positions", async () => (await rows(g.page, "positions")).length === 2);
  await sleep(1000);
  const tickets = (await rows(g.page, "positions")).map((r) => r[0]);
  assert.equal(new Set(tickets).size, 2, `no duplicate: ${tickets.join(", ")}`);
  assert.equal(loads, 0, "no reload");
  await g.done();
});

test("a short-lived token expires: the sign-in is asked with the reason, and the tables resume after it", async () => {
  const user = crypto.randomUUID();
  const long = service.token(user);
  await connect(service, long, fresh());
  await apiCall(service, long, "POST", "/api/v1/orders", { symbol: "EURUSD", type: "buy", volume: 0.01 });
  const g = await page();
  g.expectFailing(/\/api\/v1\//);
  await signedIn(g, "/console/positions", service.token(user, "4s"));
  await until("one position", async () => (await rows(g.page, "positions")).length === 1);
  await heading(g.page, "Sign in to the mt5-bridge console", 20_000);
  await seeText(g.page, /Your sign-in expired/);
  await g.page.getByLabel("Access token", { exact: true }).fill(service.token(user));
  await g.page.getByRole("button", { name: "Use this token" }).click();
  await heading(g.page, "Trade");
  await until("the position again", async () => (await rows(g.page, "positions")).length === 1);
  await streamLive(g.page);
  await g.done();
});

test("another user's account id in the address is 'not found'", async () => {
  const a = await trader();
  const b = await trader();
  const g = await page();
  await signedIn(g, `/console/positions?account=${a.account}`, b.token);
  await heading(g.page, "Account not found");
  await seeText(g.page, /not one of yours/);
  assert.ok(!g.requests.some((r) => r.headers()["x-account-id"] === a.account && /\/(positions|orders|account)$/.test(r.url())));
  await g.done();
});

test("every error code of /openapi.json has its message in the console", async () => {
  const doc = (await (await fetch(`${service.baseUrl}/openapi.json`)).json()) as {
    components: { schemas: Record<string, { enum?: string[]; oneOf?: { enum?: string[] }[] }> };
  };
  const schema = doc.components.schemas.ErrorCode;
  assert.ok(schema, "the document has ErrorCode");
  const codes = schema.enum ?? (schema.oneOf ?? []).flatMap((s) => s.enum ?? []);
  assert.ok(codes.length > 30, `codes read: ${codes.length}`);
  const missing = codes.filter((c) => !(c in MESSAGES));
  assert.deepEqual(missing, [], `codes without a message: ${missing.join(", ")}`);
  // The scopes named where the document describes `rate_limited` (not other `*_per_*` names).
  const descriptions = [...JSON.stringify(doc).matchAll(/"description":"((?:[^"\\]|\\.)*)"/g)]
    .map((m) => m[1]!)
    .filter((d) => d.includes("rate_limited") && d.includes("scope"));
  const scopes = new Set(descriptions.flatMap((d) => [...d.matchAll(/`([a-z]+(?:_[a-z]+)*_per_[a-z]+)`/g)].map((m) => m[1]!)));
  assert.ok(scopes.size >= 5, `scopes read: ${[...scopes].join(", ")}`);
  const noScope = [...scopes].filter((s) => !(s in SCOPES));
  assert.deepEqual(noScope, [], `rate-limit scopes without a message: ${noScope.join(", ")}`);
});

test("every screen: axe finds no serious or critical violation; screenshots", async () => {
  const { token } = await trader();
  await apiCall(service, token, "POST", "/api/v1/orders", { symbol: "EURUSD", type: "buy", volume: 0.01, sl: 0.5, tp: 5 });
  const g = await page();
  await signedIn(g, "/console/positions", token);
  await until("one position", async () => (await rows(g.page, "positions")).length === 1);
  for (const [path, title] of [
    ["positions", "Trade"],
    ["chart", "Chart"],
    ["history", "History"],
    ["journal", "Journal"],
    ["algorithms", "Algorithms"],
    ["bots", "Bots"],
    ["backtests", "Backtests"],
    ["accounts", "Accounts"],
  ] as const) {
    await g.page.getByRole("link", { name: title === "Trade" ? "Trade" : title }).click();
    await heading(g.page, title);
    if (path === "chart") {
      await seeText(g.page, /EURUSD H1: \d+ candles/);
      assert.match(await textOf(g.page.getByTestId("chart-summary")), /Open positions: buy 0\.01 at [\d.]+, SL 0\.5, TP 5\./);
      assert.equal(await g.page.getByTestId("chart").getAttribute("aria-describedby"), "chart-summary");
      assert.equal(await g.page.locator("a[href*='tradingview.com']").count() >= 1, true, "the attribution logo stays");
      await g.page.getByRole("button", { name: "Show as table" }).click();
      await g.page.getByRole("table", { name: /EURUSD H1 candles/ }).waitFor();
    }
    if (path === "history") await g.page.getByTestId("deals").waitFor();
    if (path === "backtests") await seeText(g.page, "No backtest yet.");
    if (path === "bots") await seeText(g.page, "No bot yet on this account.");
    await screenshot(g.page, `screen-${path}`);
    assert.deepEqual(await axe(g.page), [], `on ${path}`);
  }
  await g.page.getByRole("button", { name: "About" }).click();
  await seeText(g.page, /TradingView Lightweight Charts™ Copyright \(c\) 2025 TradingView, Inc\./);
  assert.deepEqual(await axe(g.page), [], "the about box");
  await screenshot(g.page, "about");
  await g.page.keyboard.press("Escape");
  await g.page.getByRole("dialog").waitFor({ state: "hidden" });
  await g.done();
});

test("keyboard alone: the skip link comes first, Enter submits the sign-in and the ticket", async () => {
  const { token } = await trader();
  const g = await page();
  await g.page.goto(`${service.baseUrl}/console/positions`);
  await heading(g.page, "Sign in to the mt5-bridge console");
  await g.page.keyboard.press("Tab");
  assert.equal(await g.page.evaluate(() => document.activeElement?.id), "token");
  await g.page.keyboard.type(token);
  await g.page.keyboard.press("Enter");
  await seeText(g.page, "No open position.");
  await g.page.keyboard.press("Tab");
  assert.equal(await g.page.evaluate(() => document.activeElement?.textContent), "Skip to content");
  await g.page.getByLabel("Volume (lots)").focus();
  await g.page.keyboard.press("Control+A");
  await g.page.keyboard.type("0.03");
  await g.page.keyboard.press("Enter");
  await until("the position", async () => (await rows(g.page, "positions"))[0]?.[3] === "0.03");
  await g.done();
});

test("at 390 px wide the tables scroll and the ticket stays usable", async () => {
  const { token } = await trader();
  await apiCall(service, token, "POST", "/api/v1/orders", { symbol: "EURUSD", type: "buy", volume: 0.01 });
  const g = await page({ viewport: { width: 390, height: 844 } });
  await signedIn(g, "/console/positions", token);
  await until("one position", async () => (await rows(g.page, "positions")).length === 1);
  const wrap = g.page.locator(".table-wrap").first();
  const [scroll, client] = await wrap.evaluate((el) => [el.scrollWidth, el.clientWidth]);
  assert.ok(scroll > client, `the table scrolls inside its box (${scroll} > ${client})`);
  const pageWidth = await g.page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(pageWidth <= 390, `the page itself does not scroll sideways (${pageWidth})`);
  const buy = g.page.getByRole("form", { name: "Order ticket" }).getByRole("button", { name: "Buy", exact: true });
  await buy.scrollIntoViewIfNeeded();
  const box = await buy.boundingBox();
  assert.ok(box && box.x >= 0 && box.x + box.width <= 390, "the ticket's button is on screen");
  await buy.click();
  await until("two positions", async () => (await rows(g.page, "positions")).length === 2);
  await screenshot(g.page, "phone-trade");
  assert.deepEqual(await axe(g.page), []);
  await g.done();
});

test("a tab refused with 4029 (too many streams) says so, and comes back when another closes", async () => {
  const { token } = await trader();
  const tabs: Guarded[] = [];
  for (let i = 0; i < 2; i++) {
    const t = await page();
    await signedIn(t, "/console/positions", token);
    await streamLive(t.page);
    tabs.push(t);
  }
  const third = await page();
  await signedIn(third, "/console/positions", token);
  await seeText(third.page, /Too many live streams open for your user/);
  await tabs[0]!.done();
  await streamLive(third.page);
  await tabs[1]!.done();
  await third.done();
});
