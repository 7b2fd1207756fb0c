// Algorithms: the built-in strategies and the user's saved configurations; a dry run shows the
// trades it would place and those it skipped; a live run asks for confirmation first. The
// parameter fields are drawn from each strategy's own JSON Schema, as the service serves it.
import { useEffect, useState } from "preact/hooks";
import type { components } from "@mt5-bridge/client";
import { describe, type Shown } from "../errors.js";
import { api, call, toast, useStore } from "../state.js";
import { Dialog, ErrorText, Field, Side, price } from "../ui.js";

export type Builtin = components["schemas"]["BuiltinAlgorithm"];
export type Saved = components["schemas"]["Algorithm"];
type Result = components["schemas"]["ExecuteResponse"];
export interface Prop {
  type?: string | string[];
  description?: string;
  default?: unknown;
  minimum?: number;
  maximum?: number;
}

/** A page of `GET /algorithms`: `next_cursor` (when the service pages) names the next one. */
interface AlgorithmPage {
  builtin: Builtin[];
  saved: Saved[];
  next_cursor?: string | null;
}

/** Every saved configuration: the pages of `GET /algorithms`, following `next_cursor`. */
export async function listAll(): Promise<{ builtin: Builtin[]; saved: Saved[] }> {
  const first = (await call(api().GET("/api/v1/algorithms"))) as AlgorithmPage;
  const saved = [...first.saved];
  let cursor = first.next_cursor;
  // At most 100 pages: a cursor that kept coming back would otherwise never end.
  for (let i = 0; cursor && i < 100; i++) {
    // Typed loosely: the client generated before the service paged this route has no `cursor`.
    const page = (await call(api().GET("/api/v1/algorithms", { params: { query: { cursor } } } as never))) as AlgorithmPage;
    saved.push(...page.saved);
    cursor = page.next_cursor;
  }
  return { builtin: first.builtin, saved };
}

export function Algorithms() {
  const s = useStore();
  const [list, setList] = useState<{ builtin: Builtin[]; saved: Saved[] }>();
  const [chosen, setChosen] = useState("ma_crossover");
  const [values, setValues] = useState<Record<string, string>>({ symbol: "EURUSD" });
  const [error, setError] = useState<Shown>();
  const [result, setResult] = useState<Result>();
  const [busy, setBusy] = useState(false);
  const [confirming, setConfirming] = useState(false);

  useEffect(() => {
    listAll()
      .then(setList)
      .catch((e) => setError(describe(e)));
  }, []);

  const saved = list?.saved.find((a) => a.id === chosen);
  const builtin = list?.builtin.find((b) => b.name === (saved ? saved.kind : chosen));
  const props = ((builtin?.parameters as { properties?: Record<string, Prop> } | undefined)?.properties ?? {}) as Record<string, Prop>;
  const account = s.accounts?.find((a) => a.id === s.accountId);
  const live = account?.account_type === "live" || s.summary?.trade_mode === "real";

  function parameters(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [k, p] of Object.entries(props)) {
      const v = (values[k] ?? "").trim();
      if (v === "") continue;
      const t = Array.isArray(p.type) ? p.type : [p.type];
      out[k] = t.includes("number") || t.includes("integer") ? Number(v) : t.includes("boolean") ? v === "true" : v;
    }
    return out;
  }

  async function run(dry: boolean, confirmLive = false) {
    if (busy || !s.accountId) return;
    setBusy(true);
    setError(undefined);
    setResult(undefined);
    try {
      const r = await call(
        api().POST("/api/v1/algorithms/execute", {
          body: {
            account_id: s.accountId,
            algorithm_id: chosen,
            parameters: parameters(),
            dry_run: dry,
            ...(confirmLive ? { confirm_live: true } : {}),
          } as never,
        }),
      );
      setResult(r);
      if (!dry) toast(`Run done: ${r.trades_executed} trade(s) placed.`);
    } catch (e) {
      setError(describe(e));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section>
      <h1 tabIndex={-1}>Algorithms</h1>
      <form
        class="card"
        aria-labelledby="algo-title"
        onSubmit={(e) => {
          e.preventDefault();
          void run(true, live);
        }}
      >
        <h2 id="algo-title">Run an algorithm on this account</h2>
        <Field id="a-algo" label="Algorithm" name="algorithm_id" error={error}>
          {(a) => (
            <select {...a} value={chosen} onChange={(e) => setChosen((e.target as HTMLSelectElement).value)}>
              <optgroup label="Built-in strategies">
                {(list?.builtin ?? [{ name: "ma_crossover", description: "", parameters: {} }]).map((b) => (
                  <option key={b.name} value={b.name}>
                    {b.name}
                  </option>
                ))}
              </optgroup>
              {!!list?.saved.length && (
                <optgroup label="Saved configurations">
                  {list.saved.map((a) => (
                    <option key={a.id} value={a.id}>
                      {a.name} ({a.kind})
                    </option>
                  ))}
                </optgroup>
              )}
            </select>
          )}
        </Field>
        {builtin?.description && <p class="hint">{builtin.description}</p>}
        <div class="grid">
          {Object.entries(props).map(([k, p]) => (
            <Field
              key={k}
              id={`a-${k}`}
              label={k.replace(/_/g, " ")}
              name={`parameters.${k}`}
              error={error}
              hint={[p.description, p.default !== undefined ? `default ${String(p.default)}` : "", saved && saved.parameters[k] !== undefined ? `saved ${String(saved.parameters[k])}` : ""]
                .filter(Boolean)
                .join(" · ")}
            >
              {(a) => (
                <input
                  {...a}
                  value={values[k] ?? ""}
                  inputMode={p.type === "string" ? undefined : "decimal"}
                  onInput={(e) => setValues({ ...values, [k]: (e.target as HTMLInputElement).value })}
                />
              )}
            </Field>
          ))}
        </div>
        <div class="buttons">
          <button type="submit" class="primary" disabled={busy}>
            Dry run
          </button>
          <button type="button" class="danger" disabled={busy || account?.trade_allowed === false} onClick={() => setConfirming(true)}>
            Run live…
          </button>
        </div>
        <ErrorText shown={error} />
      </form>
      {result && <RunResult result={result} />}
      {confirming && (
        <Dialog title="Run live?" onClose={() => setConfirming(false)}>
          <p>
            {chosen} will place real orders on {account?.account_name ?? "this account"} ({account?.login}, {account?.server})
            {live ? ", a LIVE (real-money) account" : ""}.
          </p>
          <div class="buttons">
            <button
              type="button"
              class="danger"
              onClick={() => {
                setConfirming(false);
                void run(false, live);
              }}
            >
              Yes, run live
            </button>
            <button type="button" onClick={() => setConfirming(false)}>
              Cancel
            </button>
          </div>
        </Dialog>
      )}
      {list && list.saved.length > 0 && (
        <div class="table-wrap" tabIndex={0} role="region" aria-label="Saved configurations">
          <table>
            <caption>Saved configurations</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Strategy</th>
                <th scope="col">Parameters</th>
              </tr>
            </thead>
            <tbody>
              {list.saved.map((a) => (
                <tr key={a.id}>
                  <td>{a.name}</td>
                  <td>{a.kind}</td>
                  <td>
                    <code>{JSON.stringify(a.parameters)}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function RunResult({ result }: { result: Result }) {
  return (
    <section class="card" aria-labelledby="run-title" data-testid="run-result">
      <h2 id="run-title">
        {result.dry_run ? "Dry run" : "Run"}: {result.trades.length} trade(s) {result.dry_run ? "planned" : "placed"}, {result.skipped.length} skipped
      </h2>
      {result.trades.length > 0 && (
        <div class="table-wrap" tabIndex={0} role="region" aria-label="Trades">
          <table data-testid="run-trades">
            <caption>{result.dry_run ? "Planned trades (nothing sent)" : "Trades placed"}</caption>
            <thead>
              <tr>
                <th scope="col">Symbol</th>
                <th scope="col">Side</th>
                <th scope="col">Volume</th>
                <th scope="col">Price</th>
                <th scope="col">SL</th>
                <th scope="col">TP</th>
                <th scope="col">Ticket</th>
              </tr>
            </thead>
            <tbody>
              {result.trades.map((t, i) => (
                <tr key={i}>
                  <td>{t.symbol}</td>
                  <td>
                    <Side type={t.type} />
                    {"position" in t ? ` (closes ${t.position})` : ""}
                  </td>
                  <td>{t.volume}</td>
                  <td>{price(t.price)}</td>
                  <td>{"sl" in t ? price(t.sl) : "—"}</td>
                  <td>{"tp" in t ? price(t.tp) : "—"}</td>
                  <td>{t.ticket ?? "— (dry run)"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {result.skipped.length > 0 && (
        <>
          <h3>Skipped</h3>
          <ul data-testid="run-skipped">
            {result.skipped.map((k, i) => (
              <li key={i}>
                {String(k.intent.action ?? "")} {String(k.intent.type ?? "")} {String(k.intent.symbol ?? "")}: {k.reason}
              </li>
            ))}
          </ul>
        </>
      )}
      {result.trades.length === 0 && result.skipped.length === 0 && <p>The strategy wanted no trade on the latest bars.</p>}
    </section>
  );
}
