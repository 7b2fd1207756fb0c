// Debian's Chromium (headless shell) driven by playwright-core. Every page is guarded: a page
// error, a console error (other than the browser's own "Failed to load resource" or WebSocket line
// for a request the test said would fail), or a request to any origin but the allowed ones fails
// the test that opened it.
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { extname, join, resolve } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page, type Request } from "playwright-core";

/** CHROMIUM_PATH, else Debian's chromium-headless-shell, else `chromium` on the PATH. A missing browser fails. */
export function chromiumPath(): string {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  if (existsSync("/usr/bin/chromium-headless-shell")) return "/usr/bin/chromium-headless-shell";
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (dir && existsSync(join(dir, "chromium"))) return join(dir, "chromium");
  }
  throw new Error("no Chromium: install Debian's chromium-headless-shell (apt-get install chromium-headless-shell) or set CHROMIUM_PATH");
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    // Local network access checks off: a page whose files the tests answer (overlayDist) has no
    // address of its own, so Chromium would count it as public and refuse its stream to the
    // loopback service. Every page of the tests and the service are on the loopback anyway.
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-features=LocalNetworkAccessChecks"],
  });
}

export const OUTPUT = resolve(process.cwd(), "test-output");
mkdirSync(OUTPUT, { recursive: true });

export interface Guarded {
  context: BrowserContext;
  page: Page;
  /** Every request the page made, in order. */
  requests: Request[];
  /** Problems seen so far (page errors, console errors, foreign requests). */
  problems: string[];
  /** Requests whose URL matches may fail (their "Failed to load resource" / WebSocket lines are expected). */
  expectFailing(url: RegExp): void;
  /** Fails when a problem was seen; closes the context. */
  done(): Promise<void>;
}

const DIST = resolve(process.cwd(), "dist");
const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".json": "application/json",
  ".png": "image/png",
};
const overlaid = new Map<string, Promise<boolean>>();

/**
 * Whether the service's embedded console differs from `dist/` here: a binary built from another
 * checkout (CI builds one binary for every checkout, and a branch that changes the console is
 * tested before a binary embeds it). Then the pages get this checkout's `dist/` files in place of
 * the embedded ones, with the service's own headers (its CSP, nosniff, referrer policy) and every
 * other request (the API, the stream, config.json) answered by the service itself.
 */
function needsOverlay(base: string): Promise<boolean> {
  let known = overlaid.get(base);
  if (!known) {
    known = fetch(`${base}/console/`)
      .then((r) => r.text())
      .then((served) => {
        const differs = served !== readFileSync(join(DIST, "index.html"), "utf8");
        if (differs) console.log(`# the service embeds another console build: the pages get ${DIST}'s files, with the service's headers`);
        return differs;
      });
    overlaid.set(base, known);
  }
  return known;
}

async function overlayDist(context: BrowserContext, base: string): Promise<void> {
  await context.route(`${base}/console/**`, async (route) => {
    const rel = decodeURIComponent(new URL(route.request().url()).pathname.replace(/^\/console\/?/, ""));
    const file = join(DIST, rel === "" || !extname(rel) ? "index.html" : rel);
    if (!file.startsWith(DIST) || !existsSync(file) || !statSync(file).isFile()) return route.continue();
    const answer = await route.fetch();
    const headers = { ...answer.headers() };
    for (const h of ["content-length", "content-encoding", "etag", "last-modified", "transfer-encoding"]) delete headers[h];
    headers["content-type"] = TYPES[extname(file)] ?? "application/octet-stream";
    await route.fulfill({ status: 200, headers, body: readFileSync(file) });
  });
}

export async function guardedPage(
  browser: Browser,
  allowedOrigins: string[],
  options: { viewport?: { width: number; height: number }; timezoneId?: string } = {},
): Promise<Guarded> {
  const context = await browser.newContext({
    viewport: options.viewport ?? { width: 1280, height: 860 },
    timezoneId: options.timezoneId ?? "Europe/Berlin",
    locale: "en-GB",
  });
  const base = allowedOrigins[0];
  if (base && (await needsOverlay(base))) await overlayDist(context, base);
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const requests: Request[] = [];
  const problems: string[] = [];
  const failing: RegExp[] = [];
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (msg) => {
    if (msg.type() !== "error") return;
    const text = msg.text();
    const where = msg.location().url ?? "";
    const expected =
      (/^Failed to load resource/.test(text) && failing.some((re) => re.test(where))) ||
      (/^WebSocket connection to/.test(text) && failing.some((re) => re.test(text)));
    if (!expected) problems.push(`console error: ${text} (${where})`);
  });
  page.on("request", (r) => {
    requests.push(r);
    const url = r.url();
    if (url.startsWith("data:")) return;
    const origin = new URL(url).origin;
    if (!allowedOrigins.includes(origin)) problems.push(`request to another origin: ${url}`);
  });
  return {
    context,
    page,
    requests,
    problems,
    expectFailing: (re) => void failing.push(re),
    async done() {
      await context.close();
      if (problems.length) throw new Error(`the page misbehaved:\n${problems.join("\n")}`);
    },
  };
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(OUTPUT, `${name}.png`), fullPage: true });
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/** axe-core (WCAG 2 A and AA) on the page as it is: its serious and critical violations. */
export async function axe(page: Page): Promise<string[]> {
  // Evaluated through the DevTools protocol, so the page's CSP (no inline script) stays in force.
  await page.evaluate(axeSource);
  const result = (await page.evaluate(async () => {
    const w = window as unknown as { axe: { run: (ctx: unknown, opts: unknown) => Promise<unknown> } };
    return w.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa"] } });
  })) as { violations: { id: string; impact: string; help: string; nodes: { target: string[] }[] }[] };
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.impact} ${v.id}: ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}
