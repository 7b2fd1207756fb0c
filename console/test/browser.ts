// Debian's Chromium (headless shell) driven by playwright-core. Every page is guarded: a page
// error, a console error (other than the browser's own "Failed to load resource" or WebSocket line
// for a request the test said would fail), or a request to any origin but the allowed ones fails
// the test that opened it.
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
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
  return chromium.launch({ executablePath: chromiumPath(), args: ["--no-sandbox", "--disable-dev-shm-usage"] });
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
const checked = new Map<string, Promise<void>>();

/**
 * The tests are of the console the binary serves: one built from another checkout (whose embedded
 * `dist/` is not this one's) fails them at once, rather than testing files the binary does not have.
 */
function servesThisBuild(base: string): Promise<void> {
  let known = checked.get(base);
  if (!known) {
    known = fetch(`${base}/console/`)
      .then((r) => r.text())
      .then((served) => {
        if (served !== readFileSync(join(DIST, "index.html"), "utf8")) {
          throw new Error(
            `the service at ${base} embeds another console build than ${DIST}: build the binary from this checkout (cargo build -p mt5-bridge) and run the tests again`,
          );
        }
      });
    checked.set(base, known);
  }
  return known;
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
  if (base) await servesThisBuild(base);
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
