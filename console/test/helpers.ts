// Small waits and reads for the tests: poll until what a user would see is there.
import type { Locator, Page } from "playwright-core";

export async function until(what: string, cond: () => Promise<boolean> | boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      if (await cond()) return;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? ` (${String(last)})` : ""}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function textOf(l: Locator): Promise<string> {
  return ((await l.textContent()) ?? "").replace(/\s+/g, " ").trim();
}

export async function seeText(page: Page, text: string | RegExp, ms = 15_000): Promise<void> {
  await page.getByText(text).first().waitFor({ state: "visible", timeout: ms });
}

export async function heading(page: Page, name: string | RegExp, ms = 15_000): Promise<void> {
  await page.getByRole("heading", { level: 1, name }).waitFor({ state: "visible", timeout: ms });
}

/** The rows of a table (by its data-testid), each as its cells' texts. */
export async function rows(page: Page, testid: string): Promise<string[][]> {
  const table = page.locator(`[data-testid="${testid}"]`);
  if ((await table.count()) === 0) return [];
  return table.locator("tbody tr").evaluateAll((trs) =>
    trs.map((tr) => Array.from(tr.querySelectorAll("td")).map((td) => (td.textContent ?? "").replace(/\s+/g, " ").trim())),
  );
}

/** The same formatting as the page's summary bar. */
export function money(v: number, currency: string): string {
  const s = Math.abs(v).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  return `${v < 0 ? "−" : ""}${s} ${currency}`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
