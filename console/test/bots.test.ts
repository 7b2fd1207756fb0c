// The bots screen in a real Chromium against a real `serve` on the simulator: a paper bot from the
// form through pause, resume, the kill switch, stop and delete; changes made elsewhere shown live
// (and read again after a reconnection); one bot's page, its parameters edited, a stop that left
// positions open; another user's bot; refusals by their field and their message; axe.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { Locator, Page } from "playwright-core";
import type { Browser } from "playwright-core";
import { MESSAGES } from "../src/messages.js";
import { axe, guardedPage, launchBrowser, screenshot, type Guarded } from "./browser.js";
import { heading, rows, seeText, sleep, textOf, until } from "./helpers.js";
import { NETTING, apiCall, connect, startService, type Service } from "./server.js";

let service: Service;
let browser: Browser;
let nextAccount = 1;

before(async () => {
  [service, browser] = await Promise.all([startService({ BOTS_PER_USER: "3" }), launchBrowser()]);
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

async function trader(n = nextAccount++): Promise<{ token: string; account: string }> {
  const token = service.token();
  const account = await connect(service, token, n);
  return { token, account };
}

interface Bot {
  id: string;
  name: string;
  state: string;
  state_reason: string | null;
  dry_run: boolean;
  symbol: string;
  timeframe: string;
  magic: number;
  parameters: Record<string, unknown>;
}

/** A paper bot made through the API (setting up what the page is then asked to show). */
async function paperBot(token: string, account: string, name: string, parameters: Record<string, unknown> = { symbol: "EURUSD" }): Promise<Bot> {
  return apiCall<Bot>(service, token, "POST", "/api/v1/bots", { name, account_id: account, algorithm_id: "ma_crossover", parameters, dry_run: true });
}

function calls(g: Guarded, method: string, path: RegExp) {
  return g.requests.filter((r) => r.method() === method && path.test(new URL(r.url()).pathname));
}

function bodyOf(g: Guarded, method: string, path: RegExp): Record<string, unknown> {
  const r = calls(g, method, path).at(-1);
  return JSON.parse(r?.postData() ?? "{}") as Record<string, unknown>;
}

function row(p: Page, name: string): Locator {
  return p.getByTestId("bots").locator("tbody tr").filter({ has: p.getByRole("link", { name, exact: true }) });
}

/** The State cell of a bot's row, as the user reads it. */
async function stateOf(p: Page, name: string): Promise<string> {
  return textOf(row(p, name).locator("td").nth(5));
}

async function streamLive(p: Page): Promise<void> {
  await until("the stream to be live", async () => (await textOf(p.locator(".stream-status"))) === "● Live");
}

test("a paper bot from the form: listed running; paused, resumed, paused by the kill switch, stopped, deleted", async () => {
  const { token, account } = await trader();
  const g = await page();
  await signedIn(g, "/console/bots", token);
  await heading(g.page, "Bots");
  assert.equal(await g.page.getByRole("link", { name: "Bots", exact: true }).getAttribute("aria-current"), "page", "the nav names the screen");
  await seeText(g.page, "No bot yet on this account.");
  const form = g.page.getByRole("form", { name: "New bot" });
  await form.getByLabel("fast period").waitFor();
  assert.ok(await form.getByLabel("Paper bot").isChecked(), "a paper bot unless said otherwise");
  await form.getByLabel("Name", { exact: true }).fill("EURUSD paper");
  await form.getByLabel("fast period").fill("5");
  await form.getByLabel("Name", { exact: true }).press("Enter");

  await until("the bot listed", async () => (await rows(g.page, "bots")).length === 1);
  const body = bodyOf(g, "POST", /^\/api\/v1\/bots$/);
  assert.equal(body.name, "EURUSD paper");
  assert.equal(body.account_id, account);
  assert.equal(body.algorithm_id, "ma_crossover");
  assert.equal(body.dry_run, true);
  assert.equal(body.confirm_live, undefined, "no live confirmation for a paper bot");
  assert.deepEqual(body.parameters, { symbol: "EURUSD", fast_period: 5 });
  const {
    bots: [bot],
  } = await apiCall<{ bots: Bot[] }>(service, token, "GET", "/api/v1/bots");
  assert.ok(bot);
  const [cells] = await rows(g.page, "bots");
  assert.deepEqual(cells!.slice(0, 6), ["EURUSD paper", "ma_crossover", "EURUSD", bot.timeframe, "Paper", "▶ Running"]);
  assert.equal(cells![12], String(bot.magic), "its magic number");
  assert.equal(await form.getByLabel("Name", { exact: true }).inputValue(), "", "the form is ready for another");
  await screenshot(g.page, "bots");
  assert.deepEqual(await axe(g.page), []);

  const state = async () => (await apiCall<Bot>(service, token, "GET", `/api/v1/bots/${bot.id}`)).state;
  await row(g.page, "EURUSD paper").getByRole("button", { name: "Pause EURUSD paper" }).click();
  await until("paused by the user", async () => (await stateOf(g.page, "EURUSD paper")) === "⏸ Paused: by you");
  assert.equal(await state(), "paused");
  await seeText(g.page, "Bot EURUSD paper paused.");

  await row(g.page, "EURUSD paper").getByRole("button", { name: "Resume EURUSD paper" }).click();
  await until("running again", async () => (await stateOf(g.page, "EURUSD paper")) === "▶ Running");
  assert.equal(await state(), "running");

  // The kill switch: a confirmation first, for the chosen account.
  await g.page.getByRole("button", { name: "Kill switch…" }).click();
  const kill = g.page.getByRole("dialog", { name: "Pause every running bot?" });
  await kill.getByRole("button", { name: "Cancel" }).click();
  await kill.waitFor({ state: "hidden" });
  assert.equal(calls(g, "POST", /\/bots\/kill_switch$/).length, 0, "nothing without the confirmation");
  await g.page.getByRole("button", { name: "Kill switch…" }).click();
  await kill.getByRole("button", { name: "Pause them all" }).click();
  await until("how many were paused", async () => (await textOf(g.page.getByTestId("kill-result"))) === "Kill switch: 1 bot paused.");
  assert.deepEqual(bodyOf(g, "POST", /\/bots\/kill_switch$/), { account_id: account });
  await until("paused by the kill switch", async () => (await stateOf(g.page, "EURUSD paper")) === "⏸ Paused: by the kill switch");
  const paused = await apiCall<Bot>(service, token, "GET", `/api/v1/bots/${bot.id}`);
  assert.deepEqual([paused.state, paused.state_reason], ["paused", "kill_switch"]);

  // Stop: a confirmation with the choice of closing its positions; then it can only be deleted.
  assert.equal(await row(g.page, "EURUSD paper").getByRole("button", { name: /^Delete…/ }).count(), 0, "a running or paused bot is not deleted");
  await row(g.page, "EURUSD paper").getByRole("button", { name: "Stop… EURUSD paper" }).click();
  const stop = g.page.getByRole("dialog", { name: "Stop bot EURUSD paper?" });
  assert.equal(await stop.getByLabel(/^Also close its positions/).isChecked(), false);
  await stop.getByRole("button", { name: "Stop bot" }).click();
  await until("stopped", async () => (await stateOf(g.page, "EURUSD paper")) === "■ Stopped: by you");
  assert.deepEqual(bodyOf(g, "POST", /\/stop$/), { close_positions: false });
  assert.equal(await state(), "stopped");
  assert.equal(await row(g.page, "EURUSD paper").getByRole("button", { name: /^(Pause|Resume|Stop…)/ }).count(), 0, "a stopped bot stays stopped");

  await row(g.page, "EURUSD paper").getByRole("button", { name: "Delete… EURUSD paper" }).click();
  const del = g.page.getByRole("dialog", { name: "Delete bot EURUSD paper?" });
  assert.deepEqual(await axe(g.page), [], "the dialog");
  await del.getByRole("button", { name: "Delete" }).click();
  await seeText(g.page, "No bot yet on this account.");
  await seeText(g.page, "Bot EURUSD paper deleted.");
  const gone = await fetch(`${service.baseUrl}/api/v1/bots/${bot.id}`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(gone.status, 404);
  await g.done();
});

test("live: a bot changed elsewhere shows its new state on the open screen, without a reload or a read; a reconnection reads the list again", async () => {
  const { token, account } = await trader();
  const bot = await paperBot(token, account, "Live one");
  const g = await page();
  g.expectFailing(/\/api\/v1\//); // while the service restarts, what the page asks for fails
  await signedIn(g, "/console/bots", token);
  await until("the bot running", async () => (await stateOf(g.page, "Live one")) === "▶ Running");
  await streamLive(g.page);
  await sleep(500); // the subscription's own re-read
  let loads = 0;
  g.page.on("load", () => loads++);
  const reads = () => calls(g, "GET", /^\/api\/v1\/bots$/).length;
  const before = reads();

  await apiCall(service, token, "POST", `/api/v1/bots/${bot.id}/pause`);
  await until("paused, from the stream", async () => (await stateOf(g.page, "Live one")) === "⏸ Paused: by you");
  await apiCall(service, token, "POST", `/api/v1/bots/${bot.id}/resume`);
  await until("running, from the stream", async () => (await stateOf(g.page, "Live one")) === "▶ Running");
  assert.equal(reads(), before, "changed in place, not read again");
  // A bot created elsewhere appears too.
  await paperBot(token, account, "Second one", { symbol: "GBPUSD" });
  await until("the new bot listed", async () => (await rows(g.page, "bots")).length === 2);
  assert.equal(await stateOf(g.page, "Second one"), "▶ Running");
  assert.equal(reads(), before);

  // The service restarts: the stream comes back, and the list is read again (no backlog).
  await service.restart();
  await until("read again after the reconnection", () => reads() > before, 30_000);
  await streamLive(g.page);
  await apiCall(service, token, "POST", "/api/v1/bots/kill_switch", {});
  await until("both paused, from the stream", async () => {
    const r = await rows(g.page, "bots");
    return r.length === 2 && r.every((c) => c[5] === "⏸ Paused: by the kill switch");
  });
  assert.equal(loads, 0, "no reload");

  // One bot's own page follows it too.
  await g.page.getByRole("link", { name: "Live one", exact: true }).click();
  await heading(g.page, "Bot: Live one");
  await until("its state", async () => (await textOf(g.page.getByTestId("bot-state"))) === "⏸ Paused: by the kill switch");
  await apiCall(service, token, "POST", `/api/v1/bots/${bot.id}/resume`);
  await until("running, from the stream", async () => (await textOf(g.page.getByTestId("bot-state"))) === "▶ Running");
  assert.equal(loads, 0, "no reload");
  await g.done();
});

test("a bot's own page: its facts and passes, its parameters edited (a 422 by its field), a stop that closes positions and leaves one open", async () => {
  const { token, account } = await trader();
  const bot = await paperBot(token, account, "Deep one", { symbol: "EURUSD", fast_period: 4 });
  const g = await page();
  g.expectFailing(/\/api\/v1\/bots\//);
  await signedIn(g, `/console/bots/${bot.id}`, token);
  await heading(g.page, "Bot: Deep one");
  await until("its state", async () => (await textOf(g.page.getByTestId("bot-state"))) === "▶ Running");
  const fact = (k: string) => textOf(g.page.getByTestId("bot-facts").locator(`[data-field="${k}"] dd`));
  assert.equal(await fact("symbol"), "EURUSD");
  assert.equal(await fact("mode"), "Paper (sends nothing)");
  assert.equal(await fact("magic"), String(bot.magic));
  assert.match(await fact("passes"), /^\d+$/);
  assert.match(await fact("parameters"), /fast_period 4/);
  await seeText(g.page, "No run yet.");
  const runReads = calls(g, "GET", /^\/api\/v1\/algorithms\/runs$/);
  assert.ok(runReads.length >= 1 && runReads.every((r) => new URL(r.url()).searchParams.get("bot_id") === bot.id), "its own passes are read");
  await screenshot(g.page, "bot");
  assert.deepEqual(await axe(g.page), []);

  // Edit parameters: the fields from the strategy's schema, filled with the bot's values.
  await g.page.getByRole("button", { name: "Edit parameters Deep one" }).click();
  const edit = g.page.getByRole("dialog", { name: "Parameters of bot Deep one" });
  assert.equal(await edit.getByLabel("fast period").inputValue(), "4");
  await edit.getByLabel("fast period").fill("0");
  await edit.getByRole("button", { name: "Save" }).click();
  await edit.locator("#be-p-fast_period-err").waitFor();
  assert.equal(await textOf(edit.locator("#be-p-fast_period-err")), "must be an integer from 1 to 499");
  assert.equal(await edit.getByLabel("fast period").getAttribute("aria-invalid"), "true");
  await edit.getByLabel("fast period").fill("6");
  await edit.getByRole("button", { name: "Save" }).click();
  await edit.waitFor({ state: "hidden" });
  assert.deepEqual(bodyOf(g, "PUT", /^\/api\/v1\/bots\//), { parameters: { fast_period: 6 } }, "only what changed");
  await until("the new parameters", async () => /fast_period 6/.test(await fact("parameters")));
  assert.equal((await apiCall<Bot>(service, token, "GET", `/api/v1/bots/${bot.id}`)).parameters.fast_period, 6);

  // Stop, closing its positions: a close that failed is shown with why (the answer is made to carry one).
  await g.page.route(`**/api/v1/bots/${bot.id}/stop`, async (route) => {
    const answer = await route.fetch();
    const b = (await answer.json()) as Record<string, unknown>;
    b.open_positions = [{ ticket: 123456, symbol: "EURUSD", volume: 0.01, reason: "terminal_timeout" }];
    await route.fulfill({ response: answer, json: b });
  });
  await g.page.getByRole("button", { name: "Stop… Deep one" }).click();
  const stop = g.page.getByRole("dialog", { name: "Stop bot Deep one?" });
  await stop.getByLabel(/^Also close its positions/).check();
  await stop.getByRole("button", { name: "Stop bot" }).click();
  const left = g.page.getByRole("dialog", { name: "Bot Deep one stopped" });
  await left.getByText(`Position 123456 (EURUSD, 0.01 lots): ${MESSAGES.terminal_timeout}`).waitFor();
  assert.deepEqual(bodyOf(g, "POST", /\/stop$/), { close_positions: true });
  await left.getByRole("button", { name: "Close" }).click();
  await until("stopped", async () => (await textOf(g.page.getByTestId("bot-state"))) === "■ Stopped: by you");
  assert.equal(await g.page.getByRole("button", { name: "Edit parameters Deep one" }).count(), 0);

  // Deleted from its page: back to the list.
  await g.page.getByRole("button", { name: "Delete… Deep one" }).click();
  await g.page.getByRole("dialog", { name: "Delete bot Deep one?" }).getByRole("button", { name: "Delete" }).click();
  await heading(g.page, "Bots");
  await seeText(g.page, "No bot yet on this account.");
  await g.done();
});

test("a bot's passes, page by page: the bar, the status (skipped too), trades, skipped intents and errors", async () => {
  const { token, account } = await trader();
  const bot = await paperBot(token, account, "With runs");
  // Passes with a run need a strategy that decided something on the simulator's bars: the pages are
  // made here, in the service's shape, to see each kind of run shown.
  const run = (n: number, extra: Record<string, unknown>) => ({
    id: `00000000-0000-4000-8000-00000000000${n}`,
    account_id: account,
    algorithm: "ma_crossover",
    algorithm_id: "ma_crossover",
    bot_id: bot.id,
    bar_time: `2026-03-0${n}T10:00:00Z`,
    dry_run: true,
    error: null,
    finished_at: `2026-03-0${n}T11:00:01Z`,
    started_at: `2026-03-0${n}T11:00:00Z`,
    parameters: { symbol: "EURUSD" },
    skipped: [],
    status: "done",
    trades: [],
    trades_executed: 0,
    ...extra,
  });
  const first = {
    runs: [
      run(3, { trades: [{ action: "open", symbol: "EURUSD", type: "buy", volume: 0.02, price: 1.1, sl: 1.09, tp: 0 }] }),
      run(2, { status: "skipped", skipped: [{ intent: { action: "open", symbol: "EURUSD", type: "sell" }, reason: "risk limit max_positions" }] }),
    ],
    next_cursor: "page-2",
  };
  const second = { runs: [run(1, { status: "failed", error: "terminal_unavailable" })], next_cursor: null };
  const g = await page();
  await g.page.route("**/api/v1/algorithms/runs?*", (route) => {
    const q = new URL(route.request().url()).searchParams;
    assert.equal(q.get("bot_id"), bot.id);
    return route.fulfill({ json: q.get("cursor") === "page-2" ? second : first });
  });
  await signedIn(g, `/console/bots/${bot.id}`, token);
  await heading(g.page, "Bot: With runs");
  await until("the first page", async () => (await rows(g.page, "bot-runs")).length === 2);
  const page1 = await rows(g.page, "bot-runs");
  assert.deepEqual(
    page1.map((r) => r.slice(2)),
    [
      ["✓ done (paper)", "▲ Buy 0.02 EURUSD", "—", ""],
      ["– skipped (paper)", "—", "risk limit max_positions", ""],
    ],
  );
  const bar = await g.page.getByTestId("bot-runs").locator("tbody tr").first().locator("td time").first().getAttribute("title");
  assert.equal(bar, "2026-03-03 10:00:00 UTC", "the bar's open time");
  const pages = g.page.getByRole("navigation", { name: "Pages of runs" });
  await pages.getByRole("button", { name: "Next page" }).click();
  await until("the second page", async () => (await rows(g.page, "bot-runs")).length === 1);
  assert.deepEqual((await rows(g.page, "bot-runs"))[0]!.slice(2), ["✗ failed (paper)", "—", "—", MESSAGES.terminal_unavailable]);
  assert.ok(await pages.getByRole("button", { name: "Next page" }).isDisabled(), "the last page");
  assert.deepEqual(await axe(g.page), []);
  await g.done();
});

test("another user's bot id, or a deleted one, in the address is 'Bot not found'", async () => {
  const a = await trader();
  const b = await trader();
  const theirs = await paperBot(a.token, a.account, "Not yours");
  const g = await page();
  g.expectFailing(/\/api\/v1\/bots\//);
  await signedIn(g, `/console/bots/${theirs.id}`, b.token);
  await heading(g.page, "Bot not found");
  await seeText(g.page, MESSAGES.bot_not_found);
  assert.equal(calls(g, "GET", /^\/api\/v1\/algorithms\/runs$/).length, 0, "no passes read");
  assert.equal(await g.page.getByText("Not yours").count(), 0);
  assert.deepEqual(await axe(g.page), []);

  const mine = await paperBot(b.token, b.account, "Short-lived");
  await apiCall(service, b.token, "POST", `/api/v1/bots/${mine.id}/stop`, {});
  await apiCall(service, b.token, "DELETE", `/api/v1/bots/${mine.id}`);
  await signedIn(g, `/console/bots/${mine.id}`, b.token);
  await heading(g.page, "Bot not found");
  await g.done();
});

test("refusals: a 422 by its field, bot_symbol_taken on a netting account, bot_limit_reached", async () => {
  const { token, account } = await trader(NETTING[0]);
  await paperBot(token, account, "Holds EURUSD");
  const g = await page();
  g.expectFailing(/\/api\/v1\/bots$/);
  await signedIn(g, "/console/bots", token);
  const form = g.page.getByRole("form", { name: "New bot" });
  await form.getByLabel("fast period").waitFor();

  // A blank name (spaces pass the browser's own check) and a parameter out of range, by their fields.
  await form.getByLabel("Name", { exact: true }).fill("   ");
  await form.getByRole("button", { name: "Create paper bot" }).click();
  await g.page.locator("#b-name-err").waitFor();
  assert.equal(await textOf(g.page.locator("#b-name-err")), "must not be empty");
  assert.equal(await form.getByLabel("Name", { exact: true }).getAttribute("aria-invalid"), "true");
  await form.getByLabel("Name", { exact: true }).fill("Second on EURUSD");
  await form.getByLabel("fast period").fill("0");
  await form.getByRole("button", { name: "Create paper bot" }).click();
  await g.page.locator("#b-p-fast_period-err").waitFor();
  assert.equal(await textOf(g.page.locator("#b-p-fast_period-err")), "must be an integer from 1 to 499");
  assert.equal(await g.page.locator("#b-name-err").count(), 0, "the earlier refusal is gone");

  // One bot per symbol on a netting account.
  await form.getByLabel("fast period").fill("");
  await form.getByRole("button", { name: "Create paper bot" }).click();
  await seeText(g.page, `${MESSAGES.bot_symbol_taken} Symbol: EURUSD.`);
  assert.equal((await rows(g.page, "bots")).length, 1, "nothing added");

  // BOTS_PER_USER is 3 here: two more, then the fourth is refused.
  await form.getByLabel("symbol").fill("GBPUSD");
  await form.getByRole("button", { name: "Create paper bot" }).click();
  await until("the second bot listed", async () => (await rows(g.page, "bots")).length === 2);
  await paperBot(token, account, "Third", { symbol: "USDJPY" });
  await until("the third bot listed", async () => (await rows(g.page, "bots")).length === 3);
  await form.getByLabel("Name", { exact: true }).fill("Fourth");
  await form.getByLabel("symbol").fill("USDCHF");
  await form.getByRole("button", { name: "Create paper bot" }).click();
  await seeText(g.page, `${MESSAGES.bot_limit_reached} Limit: 3 bots in all.`);
  assert.equal((await rows(g.page, "bots")).length, 3);
  assert.deepEqual(await axe(g.page), []);
  await g.done();
});

test("every account's bots: the list names each one's account, the kill switch pauses them all", async () => {
  const token = service.token();
  const first = await connect(service, token, nextAccount++, { name: "First" });
  const second = await connect(service, token, nextAccount++, { name: "Second" });
  await paperBot(token, first, "On first");
  await paperBot(token, second, "On second");
  const g = await page();
  await signedIn(g, `/console/bots?account=${first}`, token);
  await until("this account's bot", async () => (await rows(g.page, "bots")).length === 1);
  assert.equal(calls(g, "GET", /^\/api\/v1\/bots$/).at(-1) && new URL(calls(g, "GET", /^\/api\/v1\/bots$/).at(-1)!.url()).searchParams.get("account_id"), first);
  await g.page.getByLabel("Bots of").selectOption("all");
  await until("both bots", async () => (await rows(g.page, "bots")).length === 2);
  const names = (await rows(g.page, "bots")).map((r) => [r[0], r[1]]);
  assert.deepEqual(names, [
    ["On first", "First"],
    ["On second", "Second"],
  ]);
  await g.page.getByRole("button", { name: "Kill switch…" }).click();
  await g.page.getByRole("dialog", { name: "Pause every running bot?" }).getByRole("button", { name: "Pause them all" }).click();
  await until("how many were paused", async () => (await textOf(g.page.getByTestId("kill-result"))) === "Kill switch: 2 bots paused.");
  assert.deepEqual(bodyOf(g, "POST", /\/bots\/kill_switch$/), {});
  await until("both paused", async () => (await rows(g.page, "bots")).every((r) => r[6] === "⏸ Paused: by the kill switch"));
  await g.done();
});

test("at 390 px wide: the bots table scrolls inside its box, the form is usable, axe finds nothing", async () => {
  const { token, account } = await trader();
  await paperBot(token, account, "Narrow");
  const g = await page({ viewport: { width: 390, height: 844 } });
  await signedIn(g, "/console/bots", token);
  await until("the bot listed", async () => (await rows(g.page, "bots")).length === 1);
  const width = () => g.page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok((await width()) <= 390, `the page does not scroll sideways (${await width()})`);
  const [scroll, client] = await g.page.getByTestId("bots").locator("xpath=..").evaluate((el) => [el.scrollWidth, el.clientWidth]);
  assert.ok(scroll > client, `the table scrolls inside its box (${scroll} > ${client})`);
  const create = g.page.getByRole("button", { name: "Create paper bot" });
  await create.scrollIntoViewIfNeeded();
  const box = await create.boundingBox();
  assert.ok(box && box.x >= 0 && box.x + box.width <= 390, "the form's button is on screen");
  await screenshot(g.page, "phone-bots");
  assert.deepEqual(await axe(g.page), []);
  await g.done();
});
