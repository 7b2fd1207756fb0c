// The backtests screen in a real Chromium against a real `serve` on the simulator: a backtest from
// the form to its report, curve and trades; refusals by their field and the daily budget's wait; a
// sweep ranked; cancel and delete; progress from the stream; another user's backtest; axe and the
// phone width.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";
import { MESSAGES } from "../src/messages.js";
import { axe, guardedPage, launchBrowser, screenshot, type Guarded } from "./browser.js";
import { heading, money, rows, seeText, sleep, textOf, until } from "./helpers.js";
import { apiCall, connect, startService, type Service } from "./server.js";

let service: Service;
let browser: Browser;
let nextAccount = 1;

before(async () => {
  [service, browser] = await Promise.all([startService(), launchBrowser()]);
});

after(async () => {
  await browser?.close();
  service?.stop();
});

async function page(options: Parameters<typeof guardedPage>[2] = {}): Promise<Guarded> {
  return guardedPage(browser, [service.baseUrl], options);
}

async function signedIn(g: Guarded, path: string, token: string): Promise<void> {
  await g.page.goto(`${service.baseUrl}${path}#access_token=${token}&refresh_token=r&expires_in=3600&token_type=bearer`);
}

async function trader(): Promise<{ token: string; account: string }> {
  const token = service.token();
  const account = await connect(service, token, nextAccount++);
  return { token, account };
}

interface Report {
  net_profit: number;
  total_trades: number;
  profit_factor: number | null;
}
interface Backtest {
  id: string;
  status: string;
  combinations: number;
  report: Report | null;
  results: { combination: number; rank: number; parameters: Record<string, unknown>; report: Report }[];
}

const DAY = 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString();

/** A backtest queued through the API (setting up what the page is then asked to show). */
async function queue(token: string, account: string, extra: Record<string, unknown> = {}): Promise<Backtest> {
  return apiCall<Backtest>(service, token, "POST", "/api/v1/backtests", {
    account_id: account,
    algorithm_id: "ma_crossover",
    parameters: { symbol: "EURUSD" },
    from: iso(Date.now() - 60 * DAY),
    to: iso(Date.now()),
    ...extra,
  });
}

/** A sweep long enough to be caught running: 256 combinations over a year of M1 bars. */
async function queueLong(token: string, account: string): Promise<Backtest> {
  return queue(token, account, {
    parameters: { symbol: "EURUSD", timeframe: "M1" },
    sweep: { fast_period: Array.from({ length: 16 }, (_, i) => 3 + i), slow_period: Array.from({ length: 16 }, (_, i) => 20 + i) },
    from: iso(Date.now() - 365 * DAY),
  });
}

async function finished(token: string, id: string): Promise<Backtest> {
  let b: Backtest | undefined;
  await until(
    "the backtest to finish",
    async () => {
      b = await apiCall<Backtest>(service, token, "GET", `/api/v1/backtests/${id}`);
      return !["queued", "running"].includes(b.status);
    },
    60_000,
  );
  return b!;
}

function calls(g: Guarded, method: string, path: RegExp) {
  return g.requests.filter((r) => r.method() === method && path.test(new URL(r.url()).pathname));
}

async function streamLive(p: Page): Promise<void> {
  await until("the stream to be live", async () => (await textOf(p.locator(".stream-status"))) === "● Live");
}

async function status(p: Page): Promise<string> {
  return textOf(p.getByTestId("bt-status"));
}

/** Pixels of the equity band's shade (its translucent blue over the white chart) on the chart's canvases. */
async function bandPixels(p: Page): Promise<number> {
  return p.getByTestId("equity-chart").evaluate((box) => {
    let n = 0;
    for (const c of Array.from(box.querySelectorAll("canvas"))) {
      const ctx = c.getContext("2d");
      if (!ctx || !c.width || !c.height) continue;
      const d = ctx.getImageData(0, 0, c.width, c.height).data;
      for (let i = 0; i < d.length; i += 4) {
        if (Math.abs(d[i]! - 214) <= 6 && Math.abs(d[i + 1]! - 223) <= 6 && Math.abs(d[i + 2]! - 248) <= 6) n++;
      }
    }
    return n;
  });
}

test("a backtest from the form (Enter submits): followed to done, with its report, its curve and band, and its trades", async () => {
  const { token, account } = await trader();
  const g = await page();
  await signedIn(g, "/console/backtests", token);
  await heading(g.page, "Backtests");
  await seeText(g.page, "No backtest yet.");
  const form = g.page.getByRole("form", { name: "New backtest" });
  await form.getByLabel("fast period").waitFor();
  await form.getByLabel("symbol").press("Enter");

  await heading(g.page, /^Backtest: ma_crossover on EURUSD$/);
  const id = g.page.url().match(/\/console\/backtests\/([0-9a-f-]{36})\?account=/)?.[1];
  assert.ok(id, `the backtest's own address: ${g.page.url()}`);
  const [post] = calls(g, "POST", /^\/api\/v1\/backtests$/);
  const body = JSON.parse(post!.postData() ?? "{}") as Record<string, unknown>;
  assert.equal(body.account_id, account);
  assert.equal(body.algorithm_id, "ma_crossover");
  assert.deepEqual(body.parameters, { symbol: "EURUSD" });
  assert.equal(body.model, "open_prices");
  assert.ok(Date.parse(String(body.to)) - Date.parse(String(body.from)) > 80 * DAY, "a window of 90 days by default");

  await until("done", async () => (await status(g.page)) === "✓ Done", 60_000);
  assert.equal(await g.page.getByTestId("bt-status").getAttribute("role"), "status");
  const bt = await apiCall<Backtest>(service, token, "GET", `/api/v1/backtests/${id}`);
  const report = bt.report!;
  const field = (k: string) => textOf(g.page.getByTestId("bt-report").locator(`[data-field="${k}"] dd`));
  const sign = report.net_profit > 0 ? "+" : "";
  assert.ok((await field("net_profit")).startsWith(`${sign}${money(report.net_profit, "USD")}`), await field("net_profit"));
  assert.match(await field("net_profit"), report.net_profit < 0 ? / loss$/ : / profit$/, "told in words, not by colour alone");
  assert.equal(await field("total_trades"), String(report.total_trades));
  assert.ok(report.total_trades > 0, "the strategy traded");

  // The curve: drawn with its band, summarised in text, and as a table on request.
  const curve = await apiCall<{ points: { equity_min: number; equity_max: number }[] }>(
    service,
    token,
    "GET",
    `/api/v1/backtests/${id}/equity?points=1000`,
  );
  const chart = g.page.getByTestId("equity-chart");
  assert.equal(await chart.getAttribute("aria-describedby"), "bt-curve-summary");
  await chart.locator("canvas").first().waitFor();
  assert.match(await textOf(g.page.getByTestId("equity-summary")), new RegExp(`^Equity curve of the backtest: ${curve.points.length} points from .* lowest [\\d,.]+ USD`));
  await until("the band drawn", async () => (await bandPixels(g.page)) > 500);
  await g.page.getByRole("button", { name: "Show as table" }).click();
  await until("every point in the table", async () => (await rows(g.page, "equity-table")).length === curve.points.length);
  const [firstPoint] = await rows(g.page, "equity-table");
  assert.deepEqual(firstPoint!.slice(3), [money(curve.points[0]!.equity_min, "USD"), money(curve.points[0]!.equity_max, "USD")]);

  // The trades, 50 a page.
  await until("the trades", async () => (await rows(g.page, "bt-trades")).length === Math.min(50, report.total_trades));
  const trades = g.page.getByRole("navigation", { name: "Pages of trades" });
  if (report.total_trades > 50) {
    await trades.getByRole("button", { name: "Next page" }).click();
    await until("the second page", async () => (await rows(g.page, "bt-trades")).length === Math.min(50, report.total_trades - 50));
    assert.ok(calls(g, "GET", /\/trades$/).some((r) => new URL(r.url()).searchParams.has("cursor")));
  }

  // Finished: no longer read again.
  const reads = calls(g, "GET", new RegExp(`^/api/v1/backtests/${id}$`)).length;
  await sleep(2500);
  assert.equal(calls(g, "GET", new RegExp(`^/api/v1/backtests/${id}$`)).length, reads, "no polling once done");
  await screenshot(g.page, "backtest");
  assert.deepEqual(await axe(g.page), []);

  // A deep link opens the same backtest; the list leads back to it.
  await signedIn(g, `/console/backtests/${id}`, token);
  await heading(g.page, /^Backtest: ma_crossover on EURUSD$/);
  await until("done", async () => (await status(g.page)) === "✓ Done");
  await g.page.getByRole("link", { name: "← All backtests" }).click();
  await heading(g.page, "Backtests");
  await until("the backtest listed", async () => {
    const r = await rows(g.page, "backtests");
    return r.length === 1 && r[0]![1] === "ma_crossover" && r[0]![2] === "EURUSD" && r[0]![5] === "✓ Done";
  });
  await screenshot(g.page, "backtests");
  assert.deepEqual(await axe(g.page), []);
  await g.page.getByRole("link", { name: /^Open the backtest of ma_crossover/ }).click();
  await heading(g.page, /^Backtest: ma_crossover/);
  assert.ok(g.page.url().includes(`/console/backtests/${id}`));
  await g.page.goBack();
  await heading(g.page, "Backtests");
  await g.page.goForward();
  await heading(g.page, /^Backtest: ma_crossover/);
  await g.done();
});

test("a saved configuration backtested: its id is sent, its parameters are the backtest's", async () => {
  const { token } = await trader();
  const saved = await apiCall<{ algorithm: { id: string } }>(service, token, "POST", "/api/v1/algorithms", {
    name: "Fast EURUSD",
    kind: "ma_crossover",
    parameters: { symbol: "EURUSD", fast_period: 3, slow_period: 8 },
  });
  const g = await page();
  await signedIn(g, "/console/backtests", token);
  const form = g.page.getByRole("form", { name: "New backtest" });
  await form.getByLabel("Strategy or saved configuration").selectOption({ label: "Fast EURUSD (ma_crossover)" });
  await seeText(g.page, /saved 3/);
  await form.getByLabel("symbol").fill("");
  await form.getByRole("button", { name: "Run backtest" }).click();
  await heading(g.page, /^Backtest: ma_crossover on EURUSD$/);
  const [post] = calls(g, "POST", /^\/api\/v1\/backtests$/);
  assert.equal((JSON.parse(post!.postData() ?? "{}") as { algorithm_id: string }).algorithm_id, saved.algorithm.id);
  await until("its parameters shown", async () => /fast_period 3/.test(await textOf(g.page.getByTestId("bt-request"))));
  await g.done();
});

test("refusals are shown: a 422 by its field, an invalid combination by its field, the daily budget's 429 with its wait", async () => {
  const { token } = await trader();
  const g = await page();
  g.expectFailing(/\/api\/v1\/backtests$/);
  await signedIn(g, "/console/backtests", token);
  const form = g.page.getByRole("form", { name: "New backtest" });
  await form.getByLabel("fast period").fill("0");
  await form.getByRole("button", { name: "Run backtest" }).click();
  const err = g.page.locator("#bt-p-fast_period-err");
  await err.waitFor();
  assert.equal(await textOf(err), "must be an integer from 1 to 499");
  assert.equal(await form.getByLabel("fast period").getAttribute("aria-invalid"), "true");
  await seeText(g.page, /^Some fields are not valid\./);

  await form.getByLabel("fast period").fill("");
  await form.getByLabel("From").fill("2099-01-01T00:00");
  await form.getByRole("button", { name: "Run backtest" }).click();
  await g.page.locator("#bt-from-err").waitFor();
  assert.match(await textOf(g.page.locator("#bt-from-err")), /must be before `to`/);
  assert.equal(await g.page.locator("#bt-p-fast_period-err").count(), 0, "the earlier refusal is gone");
  await seeText(g.page, /^These fields cannot go together\./);

  // 256 combinations over more than two and a half years of M1 bars: more than a day's work (BACKTEST_WORK_PER_DAY).
  const now = new Date();
  const pad = (n: number) => String(n).padStart(2, "0");
  const local = (d: Date) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
  await form.getByLabel("From").fill(local(new Date(now.getTime() - 950 * DAY)));
  await form.getByLabel("timeframe").selectOption("M1");
  await form.getByRole("button", { name: "Add a swept parameter" }).click();
  await form.getByLabel("Swept parameter 1", { exact: true }).selectOption("fast_period");
  await form.getByLabel("Values of swept parameter 1").fill(Array.from({ length: 16 }, (_, i) => 3 + i).join(", "));
  await form.getByRole("button", { name: "Add a swept parameter" }).click();
  await form.getByLabel("Swept parameter 2", { exact: true }).selectOption("slow_period");
  await form.getByLabel("Values of swept parameter 2").fill(Array.from({ length: 16 }, (_, i) => 20 + i).join(", "));
  await form.getByRole("button", { name: "Run sweep" }).click();
  await seeText(g.page, /^Too many backtest bars today \(limit 200000000\)\. Try again in \d+ (s|min|h)\.$/);
  assert.ok(g.page.url().endsWith("/console/backtests") || /\/console\/backtests\?/.test(g.page.url()), "still on the form");
  await g.done();
});

test("a sweep: its combinations ranked, and choosing one shows its report, curve and trades", async () => {
  const { token } = await trader();
  const g = await page();
  await signedIn(g, "/console/backtests", token);
  const form = g.page.getByRole("form", { name: "New backtest" });
  await form.getByLabel("fast period").waitFor();
  await form.getByRole("button", { name: "Add a swept parameter" }).click();
  await form.getByLabel("Swept parameter 1", { exact: true }).selectOption("fast_period");
  await form.getByLabel("Values of swept parameter 1").fill("3, 5, 8");
  await form.getByRole("button", { name: "Add a swept parameter" }).click();
  await form.getByLabel("Swept parameter 2", { exact: true }).selectOption("slow_period");
  await form.getByLabel("Values of swept parameter 2").fill("20, 30");
  assert.ok(await form.getByLabel("fast period").isDisabled(), "a swept parameter's own field is not used");
  await form.getByLabel("Rank combinations by").selectOption("profit_factor");
  await form.getByRole("button", { name: "Run sweep" }).click();
  await heading(g.page, /^Backtest: ma_crossover on EURUSD, sweep of 6$/);
  const [post] = calls(g, "POST", /^\/api\/v1\/backtests$/);
  const body = JSON.parse(post!.postData() ?? "{}") as Record<string, unknown>;
  assert.deepEqual(body.sweep, { fast_period: [3, 5, 8], slow_period: [20, 30] });
  assert.equal(body.rank_by, "profit_factor");
  await until("done", async () => (await status(g.page)) === "✓ Done", 60_000);

  const id = g.page.url().match(/backtests\/([0-9a-f-]{36})/)![1]!;
  const bt = await apiCall<Backtest>(service, token, "GET", `/api/v1/backtests/${id}`);
  assert.equal(bt.results.length, 6);
  await until("six ranked rows", async () => (await rows(g.page, "bt-results")).length === 6);
  const table = await rows(g.page, "bt-results");
  assert.deepEqual(
    table.map((r) => [r[0], r[1], r[2]]),
    bt.results.map((r) => [r.rank === 1 ? "1 (best)" : String(r.rank), String(r.parameters.fast_period), String(r.parameters.slow_period)]),
  );
  const factors = bt.results.map((r) => r.report.profit_factor ?? Infinity);
  assert.deepEqual([...factors].sort((a, b) => b - a), factors, "best profit factor first");
  // The best is shown first.
  const best = bt.results[0]!;
  assert.equal(await textOf(g.page.locator("#bt-report-title")), `Report of combination ${best.combination} (rank 1)`);

  const third = bt.results[2]!;
  await g.page.getByRole("button", { name: "Show rank 3" }).click();
  await until("the third's report", async () => (await textOf(g.page.locator("#bt-report-title"))) === `Report of combination ${third.combination} (rank 3)`);
  assert.equal(await g.page.getByRole("button", { name: "Shown rank 3" }).getAttribute("aria-pressed"), "true");
  const sign = third.report.net_profit > 0 ? "+" : "";
  assert.ok(
    (await textOf(g.page.getByTestId("bt-report").locator('[data-field="net_profit"] dd'))).startsWith(`${sign}${money(third.report.net_profit, "USD")}`),
  );
  await until("its curve", async () => (await textOf(g.page.getByTestId("equity-summary"))).startsWith(`Equity curve of combination ${third.combination} (rank 3):`));
  const asked = (path: RegExp) =>
    calls(g, "GET", path).some((r) => new URL(r.url()).searchParams.get("combination") === String(third.combination));
  assert.ok(asked(/\/equity$/), "its curve was read");
  await until("its trades read", () => asked(/\/trades$/));
  await until("its trades", async () => (await rows(g.page, "bt-trades")).length === Math.min(50, third.report.total_trades));
  await screenshot(g.page, "backtest-sweep");
  assert.deepEqual(await axe(g.page), []);
  await g.done();
});

test("cancel a running backtest, then delete it; a running backtest followed on the stream, and no longer once its page is left", async () => {
  const { token, account } = await trader();
  const long = await queueLong(token, account);
  const g = await page();
  await signedIn(g, `/console/backtests/${long.id}`, token);
  await until("running", async () => /^(◷ Queued|▶ Running \d+ %)$/.test(await status(g.page)));
  await g.page.locator("#bt-progress").waitFor();
  await g.page.getByRole("button", { name: "Cancel backtest" }).click();
  await until("canceled", async () => (await status(g.page)) === "■ Canceled: stopped, no results kept");
  await seeText(g.page, "Backtest canceled.");
  assert.equal((await apiCall<Backtest>(service, token, "GET", `/api/v1/backtests/${long.id}`)).status, "canceled");
  await sleep(1200); // a read already on its way when the cancel answered
  const reads = calls(g, "GET", new RegExp(`^/api/v1/backtests/${long.id}$`)).length;
  await sleep(2500);
  assert.equal(calls(g, "GET", new RegExp(`^/api/v1/backtests/${long.id}$`)).length, reads, "no polling once canceled");

  await g.page.getByRole("button", { name: "Delete backtest…" }).click();
  const dialog = g.page.getByRole("dialog", { name: "Delete this backtest?" });
  await dialog.getByRole("button", { name: "Keep it" }).click();
  await dialog.waitFor({ state: "hidden" });
  assert.equal(calls(g, "DELETE", /\/backtests\//).length, 1, "nothing without the confirmation");
  await g.page.getByRole("button", { name: "Delete backtest…" }).click();
  await dialog.getByRole("button", { name: "Delete" }).click();
  await heading(g.page, "Backtests");
  await seeText(g.page, "Backtest deleted.");
  await seeText(g.page, "No backtest yet.");
  const gone = await fetch(`${service.baseUrl}/api/v1/backtests/${long.id}`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(gone.status, 404);

  await g.done();

  // Another long one (another user's: the first counts against its user's daily budget): its page
  // follows it on the stream, its progress moving with no read, and unsubscribes once left.
  const other = await trader();
  const second = await queueLong(other.token, other.account);
  const h = await page();
  const sent: string[] = [];
  h.page.on("websocket", (ws) => ws.on("framesent", (f) => void sent.push(String(f.payload))));
  await signedIn(h, `/console/backtests/${second.id}`, other.token);
  await until("running", async () => /^▶ Running \d+ %$/.test(await status(h.page)), 30_000);
  await streamLive(h.page);
  await sleep(500); // the read that follows the stream's subscription
  const path = new RegExp(`^/api/v1/backtests/${second.id}$`);
  const readsRunning = calls(h, "GET", path).length;
  const progress = () => h.page.locator("#bt-progress").getAttribute("value");
  const at = await progress();
  await until("its progress moves", async () => (await progress()) !== at, 30_000);
  assert.equal(calls(h, "GET", path).length, readsRunning, "followed on the stream, not read again");
  await h.page.getByRole("link", { name: "Journal" }).click();
  await heading(h.page, "Journal");
  const unsubscribed = () =>
    sent.some((f) => {
      const m = JSON.parse(f) as { type?: string; id?: string };
      return m.type === "unsubscribe" && m.id === "backtests";
    });
  await until("the backtests channel left", unsubscribed);
  assert.equal(calls(h, "GET", path).length, readsRunning, "not read once the page is left");
  await apiCall(service, other.token, "DELETE", `/api/v1/backtests/${second.id}`);
  await h.done();
});

test("another user's backtest id in the address is 'not found'", async () => {
  const a = await trader();
  const b = await trader();
  const theirs = await queue(a.token, a.account);
  const g = await page();
  g.expectFailing(/\/api\/v1\/backtests\//);
  await signedIn(g, `/console/backtests/${theirs.id}`, b.token);
  await heading(g.page, "Backtest not found");
  await seeText(g.page, MESSAGES.backtest_not_found);
  await sleep(2500);
  assert.equal(calls(g, "GET", new RegExp(`^/api/v1/backtests/${theirs.id}$`)).length, 1, "not read again");
  assert.equal(calls(g, "GET", /\/(equity|trades)$/).length, 0);
  assert.deepEqual(await axe(g.page), []);
  await g.done();
});

test("the list pages through the service's cursors, newest first", async () => {
  const { token, account } = await trader();
  const ids: string[] = [];
  for (let i = 0; i < 21; i++) ids.push((await queue(token, account, { from: iso(Date.now() - 20 * DAY) })).id);
  const g = await page();
  await signedIn(g, "/console/backtests", token);
  const listed = async () => g.page.getByTestId("backtests").locator("tbody tr").evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-id")));
  await until("a full first page", async () => (await listed()).length === 20);
  assert.deepEqual(await listed(), [...ids].reverse().slice(0, 20));
  const pages = g.page.getByRole("navigation", { name: "Pages of backtests" });
  await pages.getByRole("button", { name: "Next page" }).click();
  await until("the second page", async () => (await listed()).join() === ids[0]);
  assert.ok(await pages.getByRole("button", { name: "Next page" }).isDisabled(), "the last page");
  await pages.getByRole("button", { name: "Previous page" }).click();
  await until("the first page again", async () => (await listed()).length === 20);
  await g.done();
});

test("a backtest that fails says why, and is no longer read", async () => {
  const { token, account } = await trader();
  const failing = await queue(token, account, { parameters: { symbol: "NO-SUCH-SYMBOL" } });
  const g = await page();
  await signedIn(g, `/console/backtests/${failing.id}`, token);
  await until("failed", async () => (await status(g.page)) === `✗ Failed: ${MESSAGES.symbol_not_found}`);
  assert.equal(calls(g, "GET", /\/(equity|trades)$/).length, 0, "nothing to draw");
  await streamLive(g.page);
  await sleep(500); // the read that follows the stream's subscription
  const reads = calls(g, "GET", new RegExp(`^/api/v1/backtests/${failing.id}$`)).length;
  await sleep(2500);
  assert.equal(calls(g, "GET", new RegExp(`^/api/v1/backtests/${failing.id}$`)).length, reads);
  assert.ok(await g.page.getByRole("button", { name: "Delete backtest…" }).isEnabled());
  await g.done();
});

test("at 390 px wide: the form is usable, the tables scroll inside their box, axe finds nothing", async () => {
  const { token, account } = await trader();
  const done = await finished(token, (await queue(token, account, { sweep: { fast_period: [5, 10] } })).id);
  assert.equal(done.status, "done");
  const g = await page({ viewport: { width: 390, height: 844 } });
  await signedIn(g, "/console/backtests", token);
  const form = g.page.getByRole("form", { name: "New backtest" });
  await form.getByLabel("fast period").waitFor();
  await form.getByRole("button", { name: "Add a swept parameter" }).click();
  const width = () => g.page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok((await width()) <= 390, `the page does not scroll sideways (${await width()})`);
  const run = form.getByRole("button", { name: "Run sweep" });
  await run.scrollIntoViewIfNeeded();
  const box = await run.boundingBox();
  assert.ok(box && box.x >= 0 && box.x + box.width <= 390, "the form's button is on screen");
  await until("the list", async () => (await rows(g.page, "backtests")).length === 1);
  await screenshot(g.page, "phone-backtests");
  assert.deepEqual(await axe(g.page), []);

  await g.page.getByRole("link", { name: /^Open the backtest/ }).click();
  await until("the trades", async () => (await rows(g.page, "bt-trades")).length > 0);
  await g.page.getByTestId("equity-chart").locator("canvas").first().waitFor();
  assert.ok((await width()) <= 390, `the page does not scroll sideways (${await width()})`);
  for (const testid of ["bt-trades", "bt-results"]) {
    const wrap = g.page.getByTestId(testid).locator("xpath=..");
    const [scroll, client] = await wrap.evaluate((el) => [el.scrollWidth, el.clientWidth]);
    assert.ok(scroll > client, `${testid} scrolls inside its box (${scroll} > ${client})`);
  }
  const chartBox = await g.page.getByTestId("equity-chart").boundingBox();
  assert.ok(chartBox && chartBox.width <= 390 && chartBox.width > 300, "the curve fits the width");
  await screenshot(g.page, "phone-backtest");
  assert.deepEqual(await axe(g.page), []);
  await g.done();
});
