// Backtests: a form (strategy or saved configuration, its parameters drawn from the strategy's JSON
// Schema, the window, the model, the costs and an optional sweep grid), the user's backtests page by
// page, and one backtest's page (/console/backtests/<id>): its status and progress, its report, its
// equity curve with the min/max band, its trades, and for a sweep the ranked combinations. Status
// and progress come from the stream's `backtests` channel (no polling); what is shown is read again
// after a reconnection, as the stream has no backlog.
import { useEffect, useRef, useState } from "preact/hooks";
import type { components } from "@mt5-bridge/client";
import type { ComponentChildren } from "preact";
import { describe, fieldError, type Shown } from "../errors.js";
import { MESSAGES } from "../messages.js";
import { api, call, toast, useStore, useUserChannel } from "../state.js";
import { Dialog, ErrorText, Field, Pnl, Side, Time, money, price } from "../ui.js";
import { listAll, type Builtin, type Saved } from "./Algorithms.js";
import { ParameterFields, StrategySelect, chosenStrategy, numberOr, parametersOf, propsOf, typed } from "../params.js";
import { EquityChart, EquityTable, equitySummary, type EquityPoint } from "./EquityChart.js";

type Backtest = components["schemas"]["BacktestView"];
type Result = components["schemas"]["BacktestResult"];
type Report = components["schemas"]["Report"];
type Trade = components["schemas"]["BacktestTrade"];
type RankMetric = components["schemas"]["RankMetric"];
type Status = components["schemas"]["BacktestStatus"];

const LIST_PAGE = 20;
const TRADES_PAGE = 50;
/** A read that failed for a reason that can pass (the network, the database) is tried again after this. */
const RETRY_MS = 2000;

const METRICS: [RankMetric, string][] = [
  ["net_profit", "Net profit"],
  ["profit_factor", "Profit factor"],
  ["expected_payoff", "Expected payoff"],
  ["recovery_factor", "Recovery factor"],
  ["sharpe_ratio", "Sharpe ratio"],
  ["win_rate", "Win rate"],
  ["total_trades", "Total trades"],
  ["max_drawdown_balance", "Maximal balance drawdown"],
  ["max_drawdown_balance_pct", "Maximal balance drawdown (%)"],
  ["max_drawdown_equity", "Maximal equity drawdown"],
  ["max_drawdown_equity_pct", "Maximal equity drawdown (%)"],
];
const METRIC_LABEL = Object.fromEntries(METRICS) as Record<RankMetric, string>;

const STATUS: Record<Status, [string, string]> = {
  queued: ["◷", "Queued"],
  running: ["▶", "Running"],
  done: ["✓", "Done"],
  failed: ["✗", "Failed"],
  canceled: ["■", "Canceled"],
};

const active = (s: Status) => s === "queued" || s === "running";

const STAGE: Record<Status, number> = { queued: 0, running: 1, done: 2, failed: 2, canceled: 2 };

/** The later of two versions of a backtest (a read that started before an event does not undo it). */
function later(a: Backtest | undefined, b: Backtest): Backtest {
  if (!a) return b;
  const d = STAGE[a.status] - STAGE[b.status];
  return d > 0 || (d === 0 && a.status === b.status && a.progress > b.progress) ? a : b;
}

/** A backtest as the list shows it (the list's pages carry each one's best result only). */
function listed(b: Backtest): Backtest {
  return { ...b, results: b.results.slice(0, 1) };
}

/** The backtest named by the address (/console/backtests/<id>), if any. */
function idFromPath(): string | undefined {
  const [screen, id] = location.pathname.replace(/^\/console\/?/, "").split("/");
  return screen === "backtests" && id ? decodeURIComponent(id) : undefined;
}

/** Moves to a path under /console/, keeping the chosen account, as the screen links do. */
function go(path: string): void {
  history.pushState(null, "", `/console/${path}${location.search}`);
  dispatchEvent(new PopStateEvent("popstate"));
}

function pct(v: number | null | undefined): string {
  return v === null || v === undefined ? "—" : `${(v * 100).toFixed(1)} %`;
}

function ratio(v: number | null | undefined): string {
  return v === null || v === undefined ? "—" : v.toFixed(2);
}

function metricText(m: RankMetric, r: Report, currency?: string): string {
  switch (m) {
    case "win_rate":
      return pct(r.win_rate);
    case "total_trades":
      return String(r.total_trades);
    case "max_drawdown_balance_pct":
    case "max_drawdown_equity_pct":
      return `${r[m].toFixed(2)} %`;
    case "net_profit":
    case "expected_payoff":
      return r[m] === null ? "—" : `${(r[m] ?? 0) > 0 ? "+" : ""}${money(r[m], currency)}`;
    case "max_drawdown_balance":
    case "max_drawdown_equity":
      return money(r[m], currency);
    default:
      return ratio(r[m]);
  }
}

function timeOf(v: unknown): string | undefined {
  if (typeof v === "number") return new Date(v * 1000).toISOString();
  return typeof v === "string" ? v : undefined;
}

function StatusText({ b }: { b: Backtest }) {
  const [icon, word] = STATUS[b.status];
  return (
    <span class={`bt-state ${b.status}`}>
      <span aria-hidden="true">{icon} </span>
      {word}
      {b.status === "running" ? ` ${Math.floor(b.progress * 100)} %` : ""}
    </span>
  );
}

function strategyOf(b: Backtest): string {
  const r = b.request as { kind?: string; algorithm_id?: string; parameters?: Record<string, unknown> };
  return r.kind ?? r.algorithm_id ?? "—";
}

function symbolOf(b: Backtest): string {
  const p = (b.request as { parameters?: Record<string, unknown> }).parameters ?? {};
  return typeof p.symbol === "string" ? p.symbol : "—";
}

function currencyOf(b: Backtest): string | undefined {
  const a = (b.request as { account?: { currency?: string } }).account;
  return a?.currency;
}

export function Backtests() {
  const [id, setId] = useState(idFromPath());
  useEffect(() => {
    const pop = () => setId(idFromPath());
    addEventListener("popstate", pop);
    return () => removeEventListener("popstate", pop);
  }, []);
  const first = useRef(true);
  useEffect(() => {
    // The main view focuses the heading when the screen changes; within this screen, here.
    if (first.current) {
      first.current = false;
      return;
    }
    document.querySelector<HTMLElement>("main h1")?.focus({ preventScroll: true });
    document.title = `${id ? "Backtest" : "Backtests"} · mt5-bridge console`;
  }, [id]);
  return id ? <BacktestPage key={id} id={id} /> : <BacktestsHome />;
}

// ---- the form and the list ---------------------------------------------------------------

function isoLocal(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A datetime-local value as RFC 3339 (the browser's zone), or as typed for the service to refuse. */
function instant(v: string): string {
  const d = new Date(v);
  return v && !Number.isNaN(d.getTime()) ? d.toISOString() : v;
}

interface SweepRow {
  key: string;
  values: string;
}

function BacktestsHome() {
  return (
    <section>
      <h1 tabIndex={-1}>Backtests</h1>
      <BacktestForm />
      <BacktestList />
    </section>
  );
}

function BacktestForm() {
  const s = useStore();
  const [list, setList] = useState<{ builtin: Builtin[]; saved: Saved[] }>();
  const [chosen, setChosen] = useState("ma_crossover");
  const [values, setValues] = useState<Record<string, string>>({ symbol: "EURUSD" });
  const [from, setFrom] = useState(isoLocal(new Date(Date.now() - 90 * 86_400_000)));
  const [to, setTo] = useState(isoLocal(new Date()));
  const [model, setModel] = useState("open_prices");
  const [deposit, setDeposit] = useState("");
  const [spread, setSpread] = useState("bar");
  const [spreadPoints, setSpreadPoints] = useState("");
  const [commission, setCommission] = useState("");
  const [slippage, setSlippage] = useState("");
  const [sweep, setSweep] = useState<SweepRow[]>([]);
  const [rankBy, setRankBy] = useState<RankMetric>("net_profit");
  const [error, setError] = useState<Shown>();
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    listAll()
      .then(setList)
      .catch((e) => setError(describe(e)));
  }, []);

  const { saved, builtin } = chosenStrategy(list, chosen);
  const props = propsOf(builtin);
  const swept = new Set(sweep.map((r) => r.key).filter(Boolean));

  function body(): Record<string, unknown> {
    const parameters = parametersOf(props, values, swept);
    const b: Record<string, unknown> = {
      account_id: s.accountId,
      algorithm_id: chosen,
      parameters,
      from: instant(from),
      to: instant(to),
      model,
      spread,
    };
    if (deposit.trim()) b.initial_deposit = numberOr(deposit);
    if (spreadPoints.trim()) b.spread_points = numberOr(spreadPoints);
    if (commission.trim()) b.commission_per_lot = numberOr(commission);
    if (slippage.trim()) b.slippage_points = numberOr(slippage);
    const grid: Record<string, unknown[]> = {};
    for (const r of sweep) {
      if (!r.key) continue;
      grid[r.key] = r.values
        .split(/[,;]/)
        .map((v) => v.trim())
        .filter((v) => v !== "")
        .map((v) => typed(props[r.key], v));
    }
    if (Object.keys(grid).length) {
      b.sweep = grid;
      b.rank_by = rankBy;
    }
    return b;
  }

  async function submit() {
    if (busy || !s.accountId) return;
    setBusy(true);
    setError(undefined);
    try {
      const b = await call(api().POST("/api/v1/backtests", { body: body() as never }));
      toast(b.combinations > 1 ? `Sweep of ${b.combinations} combinations queued.` : "Backtest queued.");
      go(`backtests/${b.id}`);
    } catch (e) {
      setError(describe(e));
    } finally {
      setBusy(false);
    }
  }

  /** A sweep row shows the errors of its values, which the service names `sweep.<key>` or `parameters.<key>`. */
  const sweepError = (key: string) => fieldError(error, `sweep.${key}`) ?? fieldError(error, `parameters.${key}`);
  const candidates = Object.keys(props).filter((k) => k !== "symbol");

  return (
    <form
      class="card"
      aria-labelledby="bt-form-title"
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      <h2 id="bt-form-title">New backtest</h2>
      <p class="hint">
        On the chosen account's broker history and terms ({s.accounts?.find((a) => a.id === s.accountId)?.account_name ?? "no account"}); nothing
        is sent to the broker.
      </p>
      <StrategySelect id="bt-algo" label="Strategy or saved configuration" list={list} value={chosen} onChange={setChosen} error={error} />
      {builtin?.description && <p class="hint">{builtin.description}</p>}
      <fieldset>
        <legend>Parameters</legend>
        <ParameterFields
          idPrefix="bt-p-"
          schema={props}
          values={values}
          onChange={setValues}
          error={error}
          note={(k) => (swept.has(k) ? "swept below" : undefined)}
          current={saved?.parameters}
          disabled={(k) => swept.has(k)}
        />
      </fieldset>
      <fieldset>
        <legend>Window and model</legend>
        <div class="grid">
          <Field id="bt-from" label="From" name="from" error={error}>
            {(a) => <input {...a} type="datetime-local" value={from} onInput={(e) => setFrom((e.target as HTMLInputElement).value)} />}
          </Field>
          <Field id="bt-to" label="To" name="to" error={error} hint="after now is read as now">
            {(a) => <input {...a} type="datetime-local" value={to} onInput={(e) => setTo((e.target as HTMLInputElement).value)} />}
          </Field>
          <Field id="bt-model" label="Model" name="model" error={error}>
            {(a) => (
              <select {...a} value={model} onChange={(e) => setModel((e.target as HTMLSelectElement).value)}>
                <option value="open_prices">Open prices only</option>
                <option value="m1_ohlc">1-minute OHLC</option>
              </select>
            )}
          </Field>
          <Field id="bt-deposit" label="Initial deposit" name="initial_deposit" error={error} hint="empty: the account's balance">
            {(a) => <input {...a} inputMode="decimal" value={deposit} onInput={(e) => setDeposit((e.target as HTMLInputElement).value)} />}
          </Field>
        </div>
      </fieldset>
      <fieldset>
        <legend>Costs</legend>
        <div class="grid">
          <Field id="bt-spread" label="Spread" name="spread" error={error}>
            {(a) => (
              <select {...a} value={spread} onChange={(e) => setSpread((e.target as HTMLSelectElement).value)}>
                <option value="bar">The bar's spread</option>
                <option value="fixed">Fixed points</option>
                <option value="larger">The larger of the two</option>
              </select>
            )}
          </Field>
          <Field id="bt-spread-points" label="Spread points" name="spread_points" error={error} hint="for fixed or the larger">
            {(a) => <input {...a} inputMode="numeric" value={spreadPoints} onInput={(e) => setSpreadPoints((e.target as HTMLInputElement).value)} />}
          </Field>
          <Field id="bt-commission" label="Commission per lot" name="commission_per_lot" error={error} hint="per side, default 0">
            {(a) => <input {...a} inputMode="decimal" value={commission} onInput={(e) => setCommission((e.target as HTMLInputElement).value)} />}
          </Field>
          <Field id="bt-slippage" label="Slippage points" name="slippage_points" error={error} hint="default 0">
            {(a) => <input {...a} inputMode="numeric" value={slippage} onInput={(e) => setSlippage((e.target as HTMLInputElement).value)} />}
          </Field>
        </div>
      </fieldset>
      <fieldset data-testid="sweep">
        <legend>Sweep (optional)</legend>
        <p class="hint">Each swept parameter takes every value listed (comma-separated); every combination is tested, at most 256, and ranked.</p>
        <div class={fieldError(error, "sweep") && !sweep.some((r) => sweepError(r.key)) ? "field invalid" : "field"}>
          {fieldError(error, "sweep") && !sweep.some((r) => sweepError(r.key)) && (
            <small class="field-error" role="alert">
              {fieldError(error, "sweep")}
            </small>
          )}
        </div>
        {sweep.map((r, i) => {
          const msg = r.key ? sweepError(r.key) : undefined;
          return (
            <div class="sweep-row" key={i}>
              <div class="field">
                <label for={`bt-sw-key-${i}`}>Swept parameter {i + 1}</label>
                <select
                  id={`bt-sw-key-${i}`}
                  value={r.key}
                  onChange={(e) => setSweep(sweep.map((x, j) => (j === i ? { ...x, key: (e.target as HTMLSelectElement).value } : x)))}
                >
                  <option value="">—</option>
                  {candidates.map((k) => (
                    <option key={k} value={k} disabled={k !== r.key && swept.has(k)}>
                      {k.replace(/_/g, " ")}
                    </option>
                  ))}
                </select>
              </div>
              <div class={msg ? "field invalid" : "field"}>
                <label for={`bt-sw-values-${i}`}>Values of swept parameter {i + 1}</label>
                <input
                  id={`bt-sw-values-${i}`}
                  value={r.values}
                  placeholder="e.g. 5, 10, 20"
                  aria-invalid={msg ? "true" : undefined}
                  aria-describedby={msg ? `bt-sw-values-${i}-err` : undefined}
                  onInput={(e) => setSweep(sweep.map((x, j) => (j === i ? { ...x, values: (e.target as HTMLInputElement).value } : x)))}
                />
                {msg && (
                  <small id={`bt-sw-values-${i}-err`} class="field-error" role="alert">
                    {msg}
                  </small>
                )}
              </div>
              <button type="button" class="link" onClick={() => setSweep(sweep.filter((_, j) => j !== i))}>
                Remove swept parameter {i + 1}
              </button>
            </div>
          );
        })}
        <div class="buttons">
          <button type="button" onClick={() => setSweep([...sweep, { key: candidates.find((k) => !swept.has(k)) ?? "", values: "" }])}>
            Add a swept parameter
          </button>
        </div>
        {sweep.length > 0 && (
          <Field id="bt-rank" label="Rank combinations by" name="rank_by" error={error}>
            {(a) => (
              <select {...a} value={rankBy} onChange={(e) => setRankBy((e.target as HTMLSelectElement).value as RankMetric)}>
                {METRICS.map(([k, label]) => (
                  <option key={k} value={k}>
                    {label}
                  </option>
                ))}
              </select>
            )}
          </Field>
        )}
      </fieldset>
      <div class="buttons">
        <button type="submit" class="primary" disabled={busy || !s.accountId}>
          {sweep.length ? "Run sweep" : "Run backtest"}
        </button>
      </div>
      <ErrorText shown={error} />
    </form>
  );
}

function BacktestList() {
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const [rows, setRows] = useState<Backtest[]>();
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<string>();
  const cursor = cursors[cursors.length - 1];

  const [reads, setReads] = useState(0);
  /** The latest version of each backtest the stream sent, so a slower read does not undo it. */
  const seen = useRef(new Map<string, Backtest>());

  useEffect(() => {
    let stop = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const read = async () => {
      try {
        const r = await call(api().GET("/api/v1/backtests", { params: { query: { limit: LIST_PAGE, ...(cursor ? { cursor } : {}) } } }));
        if (stop) return;
        setRows(r.backtests.map((b) => later(seen.current.get(b.id), b)));
        setNext(r.next_cursor);
        setError(undefined);
      } catch (e) {
        if (stop) return;
        const d = describe(e);
        setError(d.text);
        if (d.code !== "validation_failed" && d.code !== "unauthorized") timer = setTimeout(read, RETRY_MS);
      }
    };
    void read();
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, [cursor, reads]);

  useUserChannel(
    "backtests",
    (b) => {
      const row = listed(b);
      seen.current.set(b.id, row);
      if (rows?.some((r) => r.id === b.id)) setRows((rs) => rs?.map((r) => (r.id === b.id ? later(r, row) : r)));
      // A backtest queued elsewhere: the first page (newest first) is read again to show it.
      else if (rows && !cursor && b.status === "queued") setReads((n) => n + 1);
    },
    () => setReads((n) => n + 1),
  );

  const page = cursors.length;
  return (
    <section aria-labelledby="bt-list-title">
      <h2 id="bt-list-title">Your backtests</h2>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {rows === undefined ? (
        <p>Loading…</p>
      ) : rows.length === 0 ? (
        <p>No backtest yet.</p>
      ) : (
        <div class="table-wrap" tabIndex={0} role="region" aria-label={`Backtests, page ${page}`}>
          <table data-testid="backtests">
            <caption>Backtests, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Created</th>
                <th scope="col">Strategy</th>
                <th scope="col">Symbol</th>
                <th scope="col">Window</th>
                <th scope="col">Combinations</th>
                <th scope="col">Status</th>
                <th scope="col">Net profit (best)</th>
                <th scope="col">
                  <span class="sr-only">Open</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.map((b) => (
                <tr key={b.id} data-id={b.id}>
                  <td>
                    <Time iso={b.created_at} />
                  </td>
                  <td>{strategyOf(b)}</td>
                  <td>{symbolOf(b)}</td>
                  <td>
                    <Time iso={timeOf(b.request.from)} /> – <Time iso={timeOf(b.request.to)} />
                  </td>
                  <td>{b.combinations}</td>
                  <td>
                    <StatusText b={b} />
                  </td>
                  <td>{b.report ? <Pnl v={b.report.net_profit} currency={currencyOf(b)} /> : "—"}</td>
                  <td>
                    <a
                      href={`/console/backtests/${b.id}${location.search}`}
                      onClick={(e) => {
                        if (e.ctrlKey || e.metaKey || e.shiftKey) return;
                        e.preventDefault();
                        go(`backtests/${b.id}`);
                      }}
                    >
                      Open<span class="sr-only"> the backtest of {strategyOf(b)} created {new Date(b.created_at).toLocaleString()}</span>
                    </a>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <nav class="pager" aria-label="Pages of backtests">
        <button type="button" disabled={page <= 1} onClick={() => setCursors(cursors.slice(0, -1))}>
          Previous page
        </button>
        <span aria-live="polite">Page {page}</span>
        <button type="button" disabled={!next} onClick={() => next && setCursors([...cursors, next])}>
          Next page
        </button>
      </nav>
    </section>
  );
}

// ---- one backtest ---------------------------------------------------------------------------

async function removeBacktest(id: string): Promise<Backtest | undefined> {
  const answer = await api().DELETE("/api/v1/backtests/{backtest_id}", { params: { path: { backtest_id: id } } });
  if (answer.response.status === 204) return undefined;
  return call(Promise.resolve(answer));
}

function BacktestPage({ id }: { id: string }) {
  const [bt, setBt] = useState<Backtest>();
  const [error, setError] = useState<Shown>();
  const [chosen, setChosen] = useState<number>();
  const [busy, setBusy] = useState(false);
  const [confirming, setConfirming] = useState(false);

  const [reads, setReads] = useState(0);
  /** Not found: final, not read again. */
  const missing = useRef(false);
  /** A read on its way, and whether the stream asked for another meanwhile (read after it). */
  const reading = useRef(false);
  const again = useRef(false);

  useEffect(() => {
    if (missing.current) return;
    let stop = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const read = async () => {
      reading.current = true;
      try {
        const b = await call(api().GET("/api/v1/backtests/{backtest_id}", { params: { path: { backtest_id: id } } }));
        if (stop) return;
        setBt((was) => later(was, b));
        setError(undefined);
      } catch (e) {
        if (stop) return;
        const d = describe(e);
        setError(d);
        // A refusal that can pass (the network, the database) is tried again; "not found" is final.
        if (["backtest_not_found", "validation_failed", "unauthorized"].includes(d.code)) missing.current = d.code !== "unauthorized";
        else timer = setTimeout(read, RETRY_MS);
      } finally {
        if (!stop) {
          reading.current = false;
          if (again.current && !missing.current) {
            again.current = false;
            setReads((n) => n + 1);
          }
        }
      }
    };
    void read();
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, [id, reads]);

  useUserChannel(
    "backtests",
    (b) => b.id === id && setBt((was) => later(was, b)),
    () => {
      if (missing.current) return;
      if (reading.current) again.current = true;
      else setReads((n) => n + 1);
    },
  );

  const back = (
    <p>
      <a
        href={`/console/backtests${location.search}`}
        onClick={(e) => {
          if (e.ctrlKey || e.metaKey || e.shiftKey) return;
          e.preventDefault();
          go("backtests");
        }}
      >
        ← All backtests
      </a>
    </p>
  );

  if (!bt) {
    const missing = error && (error.code === "backtest_not_found" || error.code === "validation_failed");
    return (
      <section>
        {back}
        <h1 tabIndex={-1}>{missing ? "Backtest not found" : "Backtest"}</h1>
        {error ? (
          <p class="error" role="alert">
            {error.text}
          </p>
        ) : (
          <p>Loading the backtest…</p>
        )}
      </section>
    );
  }

  const currency = currencyOf(bt);
  const best = bt.results[0];
  const result = bt.results.find((r) => r.combination === chosen) ?? best;
  const sweep = (bt.request.sweep ?? undefined) as Record<string, unknown[]> | undefined;
  const isSweep = bt.combinations > 1;

  async function cancelOrDelete() {
    setBusy(true);
    try {
      const b = await removeBacktest(id);
      if (b) {
        setBt((was) => later(was, b));
        toast("Backtest canceled.");
      } else {
        toast("Backtest deleted.");
        go("backtests");
      }
    } catch (e) {
      const d = describe(e);
      toast(d.text, "error");
    } finally {
      setBusy(false);
    }
  }

  return (
    <section>
      {back}
      <h1 tabIndex={-1}>
        Backtest: {strategyOf(bt)} on {symbolOf(bt)}
        {isSweep ? `, sweep of ${bt.combinations}` : ""}
      </h1>
      <div class="card bt-head">
        <p class="bt-status" role="status" aria-live="polite" data-testid="bt-status">
          <StatusText b={{ ...bt, progress: Math.floor(bt.progress * 10) / 10 }} />
          {bt.status === "failed" && bt.error ? `: ${(MESSAGES as Record<string, string>)[bt.error.code] ?? bt.error.message}` : ""}
          {bt.status === "canceled" ? ": stopped, no results kept" : ""}
        </p>
        {active(bt.status) && (
          <p class="progress-line">
            <label for="bt-progress">Progress</label>{" "}
            <progress id="bt-progress" max={1} value={bt.progress}>
              {Math.floor(bt.progress * 100)} %
            </progress>{" "}
            <span>{Math.floor(bt.progress * 100)} %</span>
          </p>
        )}
        <RequestSummary bt={bt} />
        <div class="buttons">
          {active(bt.status) ? (
            <button type="button" class="danger" disabled={busy} onClick={() => void cancelOrDelete()}>
              Cancel backtest
            </button>
          ) : (
            <button type="button" class="danger" disabled={busy} onClick={() => setConfirming(true)}>
              Delete backtest…
            </button>
          )}
        </div>
      </div>
      {confirming && (
        <Dialog title="Delete this backtest?" onClose={() => setConfirming(false)}>
          <p>Its report, curve and trades are removed for good.</p>
          <div class="buttons">
            <button
              type="button"
              class="danger"
              onClick={() => {
                setConfirming(false);
                void cancelOrDelete();
              }}
            >
              Delete
            </button>
            <button type="button" onClick={() => setConfirming(false)}>
              Keep it
            </button>
          </div>
        </Dialog>
      )}
      {bt.status === "done" && result && (
        <>
          {isSweep && <Ranking bt={bt} sweep={sweep} chosen={result.combination} onChoose={setChosen} />}
          <ReportView
            result={result}
            currency={currency}
            title={isSweep ? `Report of combination ${result.combination} (rank ${result.rank})` : "Report"}
          />
          <Curve id={id} combination={result.combination} currency={currency} isSweep={isSweep} rank={result.rank} />
          <Trades key={result.combination} id={id} combination={result.combination} currency={currency} />
        </>
      )}
    </section>
  );
}

function RequestSummary({ bt }: { bt: Backtest }) {
  const r = bt.request as {
    parameters?: Record<string, unknown>;
    sweep?: Record<string, unknown[]>;
    from?: unknown;
    to?: unknown;
    model?: string;
    initial_deposit?: number | null;
    spread?: string;
    spread_points?: number;
    commission_per_lot?: number;
    slippage_points?: number;
  };
  const currency = currencyOf(bt);
  const spread = r.spread === "fixed" ? `fixed ${r.spread_points ?? 0} points` : r.spread === "larger" ? `the larger of the bar's and ${r.spread_points ?? 0} points` : "the bar's";
  return (
    <dl class="facts" data-testid="bt-request">
      <div>
        <dt>Parameters</dt>
        <dd>
          {Object.entries(r.parameters ?? {})
            .map(([k, v]) => `${k} ${String(v)}`)
            .join(", ") || "defaults"}
        </dd>
      </div>
      {r.sweep && (
        <div>
          <dt>Sweep</dt>
          <dd>
            {Object.entries(r.sweep)
              .map(([k, v]) => `${k} ∈ {${(v ?? []).map(String).join(", ")}}`)
              .join(" × ")}
            ; ranked by {METRIC_LABEL[bt.rank_by] ?? bt.rank_by}
          </dd>
        </div>
      )}
      <div>
        <dt>Window</dt>
        <dd>
          <Time iso={timeOf(r.from)} /> – <Time iso={timeOf(r.to)} />
          {bt.history_start && Date.parse(timeOf(r.from) ?? "") !== Date.parse(bt.history_start) ? (
            <>
              {" "}
              (history from <Time iso={bt.history_start} />)
            </>
          ) : null}
        </dd>
      </div>
      <div>
        <dt>Model</dt>
        <dd>{r.model === "m1_ohlc" ? "1-minute OHLC" : "Open prices only"}</dd>
      </div>
      <div>
        <dt>Deposit</dt>
        <dd>{r.initial_deposit ? money(r.initial_deposit, currency) : "the account's balance"}</dd>
      </div>
      <div>
        <dt>Costs</dt>
        <dd>
          spread {spread}; commission {money(r.commission_per_lot ?? 0, currency)} per lot and side; slippage {r.slippage_points ?? 0} points
        </dd>
      </div>
      <div>
        <dt>Created</dt>
        <dd>
          <Time iso={bt.created_at} />
        </dd>
      </div>
      {bt.finished_at && (
        <div>
          <dt>Finished</dt>
          <dd>
            <Time iso={bt.finished_at} />
          </dd>
        </div>
      )}
    </dl>
  );
}

function ReportView({ result, currency, title }: { result: Result; currency?: string; title: string }) {
  const r = result.report;
  const items: [string, string, ComponentChildren][] = [
    ["net_profit", "Net profit", <Pnl v={r.net_profit} currency={currency} />],
    ["gross_profit", "Gross profit", money(r.gross_profit, currency)],
    ["gross_loss", "Gross loss", money(r.gross_loss, currency)],
    ["profit_factor", "Profit factor", ratio(r.profit_factor)],
    ["expected_payoff", "Expected payoff", r.expected_payoff === null ? "—" : money(r.expected_payoff, currency)],
    ["recovery_factor", "Recovery factor", ratio(r.recovery_factor)],
    ["sharpe_ratio", "Sharpe ratio", ratio(r.sharpe_ratio)],
    ["initial_deposit", "Initial deposit", money(r.initial_deposit, currency)],
    ["max_drawdown_balance", "Maximal balance drawdown", `${money(r.max_drawdown_balance, currency)} (${r.max_drawdown_balance_pct.toFixed(2)} %)`],
    ["max_drawdown_equity", "Maximal equity drawdown", `${money(r.max_drawdown_equity, currency)} (${r.max_drawdown_equity_pct.toFixed(2)} %)`],
    ["total_trades", "Total trades", String(r.total_trades)],
    ["win_rate", "Win rate", pct(r.win_rate)],
    ["largest_win", "Largest win", money(r.largest_win, currency)],
    ["largest_loss", "Largest loss", money(r.largest_loss, currency)],
    ["average_win", "Average win", money(r.average_win, currency)],
    ["average_loss", "Average loss", money(r.average_loss, currency)],
    ["longest_winning_streak", "Longest winning streak", `${r.longest_winning_streak} trades`],
    ["longest_losing_streak", "Longest losing streak", `${r.longest_losing_streak} trades`],
    [
      "costs",
      "Costs paid",
      `spread ${money(r.costs.spread, currency)}, commission ${money(r.costs.commission, currency)}, swap ${money(r.costs.swap, currency)}, slippage ${money(r.costs.slippage, currency)}`,
    ],
  ];
  return (
    <section class="card" aria-labelledby="bt-report-title" data-testid="bt-report">
      <h2 id="bt-report-title">{title}</h2>
      <dl class="facts report">
        {items.map(([k, label, v]) => (
          <div key={k} data-field={k}>
            <dt>{label}</dt>
            <dd>{v}</dd>
          </div>
        ))}
      </dl>
      {result.sl_and_tp_in_one_bar > 0 && (
        <p class="hint">
          In {result.sl_and_tp_in_one_bar} bar(s) both a position's SL and TP lay inside the bar: the bar's path decided which was hit first.
        </p>
      )}
      {result.unmodelled_swaps.length > 0 && <p class="hint">No swap charged on {result.unmodelled_swaps.join(", ")} (swap mode not modelled).</p>}
    </section>
  );
}

function Ranking(props: { bt: Backtest; sweep: Record<string, unknown[]> | undefined; chosen: number; onChoose: (c: number) => void }) {
  const { bt } = props;
  const currency = currencyOf(bt);
  const keys = props.sweep ? Object.keys(props.sweep) : [];
  const columns: RankMetric[] = ["net_profit", "profit_factor", "total_trades", "win_rate", "max_drawdown_equity_pct"];
  if (!columns.includes(bt.rank_by)) columns.push(bt.rank_by);
  return (
    <section aria-labelledby="bt-rank-title">
      <h2 id="bt-rank-title">
        Combinations, ranked by {METRIC_LABEL[bt.rank_by] ?? bt.rank_by} ({bt.results.length} of {bt.combinations})
      </h2>
      <div class="table-wrap" tabIndex={0} role="region" aria-label="Ranked combinations">
        <table data-testid="bt-results">
          <caption>Best first; choose one to see its report, curve and trades</caption>
          <thead>
            <tr>
              <th scope="col">Rank</th>
              {keys.map((k) => (
                <th scope="col" key={k}>
                  {k.replace(/_/g, " ")}
                </th>
              ))}
              {columns.map((m) => (
                <th scope="col" key={m}>
                  {METRIC_LABEL[m]}
                </th>
              ))}
              <th scope="col">
                <span class="sr-only">Shown</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {bt.results.map((r) => {
              const shown = r.combination === props.chosen;
              return (
                <tr key={r.combination} data-combination={r.combination} class={shown ? "chosen" : undefined}>
                  <td>
                    {r.rank}
                    {r.rank === 1 ? " (best)" : ""}
                  </td>
                  {keys.map((k) => (
                    <td key={k}>{String(r.parameters[k] ?? "—")}</td>
                  ))}
                  {columns.map((m) => (
                    <td key={m}>{m === "net_profit" ? <Pnl v={r.report.net_profit} currency={currency} /> : metricText(m, r.report, currency)}</td>
                  ))}
                  <td>
                    <button type="button" aria-pressed={shown} onClick={() => props.onChoose(r.combination)}>
                      {shown ? "Shown" : "Show"}
                      <span class="sr-only"> rank {r.rank}</span>
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function Curve(props: { id: string; combination: number; currency?: string; isSweep: boolean; rank: number }) {
  const [points, setPoints] = useState<EquityPoint[]>();
  const [error, setError] = useState<string>();
  const [table, setTable] = useState(false);

  useEffect(() => {
    let stale = false;
    setError(undefined);
    call(
      api().GET("/api/v1/backtests/{backtest_id}/equity", {
        params: { path: { backtest_id: props.id }, query: { points: 1000, combination: props.combination } },
      }),
    )
      .then((c) => !stale && setPoints(c.points))
      .catch((e) => !stale && setError(describe(e).text));
    return () => {
      stale = true;
    };
  }, [props.id, props.combination]);

  const what = props.isSweep ? `combination ${props.combination} (rank ${props.rank})` : "the backtest";
  return (
    <section class="card" aria-labelledby="bt-curve-title">
      <h2 id="bt-curve-title">Equity curve{props.isSweep ? ` of combination ${props.combination}` : ""}</h2>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <div class="inline">
        <button type="button" aria-pressed={table} onClick={() => setTable(!table)}>
          {table ? "Hide table" : "Show as table"}
        </button>
      </div>
      <p id="bt-curve-summary" class="chart-summary" data-testid="equity-summary">
        {points ? `Equity curve of ${what}: ${equitySummary(points, props.currency)}` : "Loading the curve…"}
      </p>
      {points && <EquityChart points={points} currency={props.currency} label={`Balance and equity of ${what}`} summaryId="bt-curve-summary" />}
      {table && points && <EquityTable points={points} currency={props.currency} caption={`Balance and equity of ${what}`} />}
    </section>
  );
}

function Trades(props: { id: string; combination: number; currency?: string }) {
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const [trades, setTrades] = useState<Trade[]>();
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<string>();
  const cursor = cursors[cursors.length - 1];

  useEffect(() => {
    let stale = false;
    setError(undefined);
    call(
      api().GET("/api/v1/backtests/{backtest_id}/trades", {
        params: { path: { backtest_id: props.id }, query: { combination: props.combination, limit: TRADES_PAGE, ...(cursor ? { cursor } : {}) } },
      }),
    )
      .then((p) => {
        if (stale) return;
        setTrades(p.trades);
        setNext(p.next_cursor);
      })
      .catch((e) => !stale && setError(describe(e).text));
    return () => {
      stale = true;
    };
  }, [props.id, props.combination, cursor]);

  const page = cursors.length;
  return (
    <section class="card" aria-labelledby="bt-trades-title">
      <h2 id="bt-trades-title">Trades</h2>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {trades === undefined ? (
        <p>Loading…</p>
      ) : trades.length === 0 ? (
        <p>No trade.</p>
      ) : (
        <div class="table-wrap" tabIndex={0} role="region" aria-label={`Trades, page ${page}`}>
          <table data-testid="bt-trades">
            <caption>Closed trades, oldest first</caption>
            <thead>
              <tr>
                <th scope="col">Opened</th>
                <th scope="col">Side</th>
                <th scope="col">Volume</th>
                <th scope="col">Open price</th>
                <th scope="col">SL</th>
                <th scope="col">TP</th>
                <th scope="col">Closed</th>
                <th scope="col">Close price</th>
                <th scope="col">Swap</th>
                <th scope="col">Commission</th>
                <th scope="col">Profit</th>
              </tr>
            </thead>
            <tbody>
              {trades.map((t, i) => (
                <tr key={`${t.time}-${i}`}>
                  <td>
                    <Time iso={t.time} />
                  </td>
                  <td>
                    <Side type={t.type} />
                  </td>
                  <td>{t.volume}</td>
                  <td>{price(t.price_open)}</td>
                  <td>{price(t.sl)}</td>
                  <td>{price(t.tp)}</td>
                  <td>
                    <Time iso={t.time_close} />
                  </td>
                  <td>{price(t.price_close)}</td>
                  <td>{money(t.swap, props.currency)}</td>
                  <td>{money(t.commission, props.currency)}</td>
                  <td>
                    <Pnl v={t.profit} currency={props.currency} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <nav class="pager" aria-label="Pages of trades">
        <button type="button" disabled={page <= 1} onClick={() => setCursors(cursors.slice(0, -1))}>
          Previous page
        </button>
        <span aria-live="polite">Page {page}</span>
        <button type="button" disabled={!next} onClick={() => next && setCursors([...cursors, next])}>
          Next page
        </button>
      </nav>
    </section>
  );
}
