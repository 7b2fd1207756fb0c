// Trade: open positions and pending orders from the stream (close, modify SL/TP, cancel), and the
// order ticket.
import { ApiError, type JournalEntry } from "@mt5-bridge/client";
import { useEffect, useRef, useState } from "preact/hooks";
import { describe, type Shown } from "../errors.js";
import {
  api,
  call,
  refreshOrders,
  state,
  toast,
  useStore,
  watchJournal,
  watchTicks,
  type TradeOrder,
  type TradePosition,
} from "../state.js";
import { Dialog, ErrorText, Field, Pnl, Side, Time, num, price } from "../ui.js";

export function Trade() {
  const s = useStore();
  const [modifying, setModifying] = useState<TradePosition>();
  const [editingOrder, setEditingOrder] = useState<TradeOrder>();
  const [busy, setBusy] = useState<Record<number, boolean>>({});
  const cur = s.summary?.currency;

  useEffect(() => {
    if (s.orders === undefined) void refreshOrders();
  }, [s.accountId]);

  async function act(ticket: number, what: string, f: () => Promise<unknown>) {
    if (busy[ticket]) return;
    setBusy({ ...busy, [ticket]: true });
    try {
      await f();
      toast(what);
    } catch (e) {
      toast(describe(e).text, "error");
    } finally {
      setBusy((b) => ({ ...b, [ticket]: false }));
    }
  }

  return (
    <section>
      <h1 tabIndex={-1}>Trade</h1>
      <div class="trade">
        <div class="tables">
          <h2 id="positions-title">Open positions</h2>
          {s.positions === undefined ? (
            <p role={s.readErrors.positions ? "alert" : undefined}>
              {s.readErrors.positions ? `Positions could not be read: ${s.readErrors.positions}` : "Waiting for positions…"}
            </p>
          ) : s.positions.length === 0 ? (
            <p data-testid="no-positions">No open position.</p>
          ) : (
            <div class="table-wrap" tabIndex={0} role="region" aria-labelledby="positions-title">
              <table data-testid="positions">
                <thead>
                  <tr>
                    <th scope="col">Ticket</th>
                    <th scope="col">Symbol</th>
                    <th scope="col">Side</th>
                    <th scope="col">Volume</th>
                    <th scope="col">Open price</th>
                    <th scope="col">Price</th>
                    <th scope="col">SL</th>
                    <th scope="col">TP</th>
                    <th scope="col">Profit</th>
                    <th scope="col">Opened</th>
                    <th scope="col">Actions</th>
                  </tr>
                </thead>
                <tbody>
                  {s.positions.map((p) => (
                    <tr key={p.ticket} data-ticket={p.ticket}>
                      <td>{p.ticket}</td>
                      <td>{p.symbol}</td>
                      <td>
                        <Side type={p.type} />
                      </td>
                      <td>{p.volume}</td>
                      <td>{price(p.price_open)}</td>
                      <td>{price(p.price_current)}</td>
                      <td>{price(p.sl)}</td>
                      <td>{price(p.tp)}</td>
                      <td>
                        <Pnl v={p.profit} currency={cur} />
                      </td>
                      <td>
                        <Time iso={p.time} />
                      </td>
                      <td class="actions">
                        <button type="button" onClick={() => setModifying(p)} aria-label={`Modify SL/TP of ${p.ticket}`}>
                          SL/TP
                        </button>
                        <button
                          type="button"
                          disabled={busy[p.ticket]}
                          aria-label={`Close position ${p.ticket}`}
                          onClick={() =>
                            act(p.ticket, `Position ${p.ticket} closed.`, () =>
                              call(api().POST("/api/v1/positions/{ticket}/close", { params: { path: { ticket: p.ticket } } })),
                            )
                          }
                        >
                          Close
                        </button>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <h2 id="orders-title">Pending orders</h2>
          {s.orders === undefined ? (
            <p role={s.readErrors.orders ? "alert" : undefined}>
              {s.readErrors.orders ? `Pending orders could not be read: ${s.readErrors.orders}` : "Loading pending orders…"}
            </p>
          ) : s.orders.length === 0 ? (
            <p data-testid="no-orders">No pending order.</p>
          ) : (
            <div class="table-wrap" tabIndex={0} role="region" aria-labelledby="orders-title">
              <table data-testid="orders">
                <thead>
                  <tr>
                    <th scope="col">Ticket</th>
                    <th scope="col">Symbol</th>
                    <th scope="col">Type</th>
                    <th scope="col">Volume</th>
                    <th scope="col">Price</th>
                    <th scope="col">SL</th>
                    <th scope="col">TP</th>
                    <th scope="col">Placed</th>
                    <th scope="col">Actions</th>
                  </tr>
                </thead>
                <tbody>
                  {s.orders.map((o) => (
                    <tr key={o.ticket} data-ticket={o.ticket}>
                      <td>{o.ticket}</td>
                      <td>{o.symbol}</td>
                      <td>
                        <Side type={o.type} />
                      </td>
                      <td>{o.volume_current}</td>
                      <td>{price(o.price_open)}</td>
                      <td>{price(o.sl)}</td>
                      <td>{price(o.tp)}</td>
                      <td>
                        <Time iso={o.time_setup} />
                      </td>
                      <td class="actions">
                        <button type="button" onClick={() => setEditingOrder(o)} aria-label={`Modify order ${o.ticket}`}>
                          Modify
                        </button>
                        <button
                          type="button"
                          disabled={busy[o.ticket]}
                          aria-label={`Cancel order ${o.ticket}`}
                          onClick={() =>
                            act(o.ticket, `Order ${o.ticket} canceled.`, () =>
                              call(api().DELETE("/api/v1/orders/{ticket}", { params: { path: { ticket: o.ticket } } })),
                            )
                          }
                        >
                          Cancel
                        </button>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </div>
        <Ticket />
      </div>
      {modifying && <ModifyPosition position={modifying} onClose={() => setModifying(undefined)} />}
      {editingOrder && <ModifyOrder order={editingOrder} onClose={() => setEditingOrder(undefined)} />}
    </section>
  );
}

/** A level field: empty removes it (null), else a number. */
function level(v: string): number | null {
  const n = num(v);
  return n === undefined ? null : n;
}

function ModifyPosition({ position, onClose }: { position: TradePosition; onClose: () => void }) {
  const [sl, setSl] = useState(position.sl ? String(position.sl) : "");
  const [tp, setTp] = useState(position.tp ? String(position.tp) : "");
  const [error, setError] = useState<Shown>();
  const [busy, setBusy] = useState(false);
  return (
    <Dialog title={`SL/TP of position ${position.ticket} (${position.symbol})`} onClose={onClose}>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          if (busy) return;
          setBusy(true);
          setError(undefined);
          try {
            const r = await call(
              api().PUT("/api/v1/positions/{ticket}", { params: { path: { ticket: position.ticket } }, body: { sl: level(sl), tp: level(tp) } }),
            );
            toast(r.changed === false ? `Position ${position.ticket}: the levels already were these.` : `Position ${position.ticket} modified.`);
            onClose();
          } catch (x) {
            setError(describe(x));
          } finally {
            setBusy(false);
          }
        }}
      >
        <Field id="mp-sl" label="Stop loss (empty: none)" name="sl" error={error}>
          {(a) => <input {...a} inputMode="decimal" value={sl} onInput={(e) => setSl((e.target as HTMLInputElement).value)} />}
        </Field>
        <Field id="mp-tp" label="Take profit (empty: none)" name="tp" error={error}>
          {(a) => <input {...a} inputMode="decimal" value={tp} onInput={(e) => setTp((e.target as HTMLInputElement).value)} />}
        </Field>
        <ErrorText shown={error} />
        <div class="buttons">
          <button type="submit" disabled={busy}>
            Save
          </button>
          <button type="button" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}

function ModifyOrder({ order, onClose }: { order: TradeOrder; onClose: () => void }) {
  const [p, setP] = useState(String(order.price_open));
  const [sl, setSl] = useState(order.sl ? String(order.sl) : "");
  const [tp, setTp] = useState(order.tp ? String(order.tp) : "");
  const [error, setError] = useState<Shown>();
  const [busy, setBusy] = useState(false);
  return (
    <Dialog title={`Modify order ${order.ticket} (${order.symbol})`} onClose={onClose}>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          if (busy) return;
          setBusy(true);
          setError(undefined);
          try {
            const r = await call(
              api().PUT("/api/v1/orders/{ticket}", {
                params: { path: { ticket: order.ticket } },
                body: { price: num(p) ?? order.price_open, sl: level(sl), tp: level(tp) },
              }),
            );
            toast(r.changed === false ? `Order ${order.ticket}: nothing to change, it already is so.` : `Order ${order.ticket} modified.`);
            void refreshOrders();
            onClose();
          } catch (x) {
            setError(describe(x));
          } finally {
            setBusy(false);
          }
        }}
      >
        <Field id="mo-price" label="Price" name="price" error={error}>
          {(a) => <input {...a} required inputMode="decimal" value={p} onInput={(e) => setP((e.target as HTMLInputElement).value)} />}
        </Field>
        <Field id="mo-sl" label="Stop loss (empty: none)" name="sl" error={error}>
          {(a) => <input {...a} inputMode="decimal" value={sl} onInput={(e) => setSl((e.target as HTMLInputElement).value)} />}
        </Field>
        <Field id="mo-tp" label="Take profit (empty: none)" name="tp" error={error}>
          {(a) => <input {...a} inputMode="decimal" value={tp} onInput={(e) => setTp((e.target as HTMLInputElement).value)} />}
        </Field>
        <ErrorText shown={error} />
        <div class="buttons">
          <button type="submit" disabled={busy}>
            Save
          </button>
          <button type="button" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}

const TYPES = [
  ["buy", "Buy (market)"],
  ["sell", "Sell (market)"],
  ["buy_limit", "Buy limit"],
  ["sell_limit", "Sell limit"],
  ["buy_stop", "Buy stop"],
  ["sell_stop", "Sell stop"],
] as const;

/** Why a submission is not a plain success or failure: the order may be (being) executed. */
interface InProgress {
  key: string;
  status: string;
  /** The journal entry the service named (`details.journal_id`), when it did. */
  journalId?: string;
}

/** `details.journal_id` of a refusal, when it carries one. */
function journalIdOf(e: ApiError): string | undefined {
  const d = e.details as { journal_id?: unknown } | null | undefined;
  return d && typeof d.journal_id === "string" ? d.journal_id : undefined;
}

function Ticket() {
  const s = useStore();
  const [f, setF] = useState({ symbol: "EURUSD", type: "buy", volume: "0.01", price: "", sl: "", tp: "", comment: "" });
  const [quote, setQuote] = useState<{ bid: number; ask: number; time: string }>();
  const [error, setError] = useState<Shown>();
  const [result, setResult] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [retry, setRetry] = useState(false);
  const [progress, setProgressState] = useState<InProgress>();
  /** What is followed now, for answers that arrive after it changed. */
  const following = useRef<InProgress | undefined>(undefined);
  const setProgress = (p: InProgress | undefined) => {
    following.current = p;
    setProgressState(p);
  };
  const [readOnly, setReadOnly] = useState(false);
  const inFlight = useRef(false);
  /** One key per submission; a retry of the same submission reuses it. */
  const key = useRef<string | null>(null);
  const pending = f.type !== "buy" && f.type !== "sell";
  const account = s.accounts?.find((a) => a.id === s.accountId);
  const tradeOff = readOnly || account?.trade_allowed === false || s.summary?.trade_allowed === false;

  useEffect(() => setReadOnly(false), [s.accountId]);

  useEffect(() => {
    const sym = f.symbol.trim();
    if (!/^[^\s/]{1,32}$/.test(sym)) return;
    const t = setTimeout(() => {
      setQuote(undefined);
      stop = watchTicks("ticket", sym, (bid, ask, time) => setQuote({ bid, ask, time }));
    }, 300);
    let stop: (() => void) | undefined;
    return () => {
      clearTimeout(t);
      stop?.();
    };
  }, [f.symbol, s.accountId]);

  /** The followed entry's news (from the stream, or read once): its outcome when it has settled. */
  function settle(e: JournalEntry) {
    const p = following.current;
    if (!p || !(e.idempotency_key === p.key || (p.journalId !== undefined && e.id === p.journalId))) return;
    if (e.status === "done") {
      setProgress(undefined);
      setResult(`Order executed: ${e.order ?? ""} at ${price(e.price)}.`);
      key.current = null;
    } else if (e.status === "pending" || e.status === "unknown") {
      if (e.status !== p.status) setProgress({ ...p, status: e.status });
    } else {
      setProgress(undefined);
      setResult(undefined);
      setError({ code: e.status, text: `The order was not executed (${e.status}${e.error ? `: ${e.error}` : ""}).`, fields: [] });
      key.current = null;
    }
  }
  const settleLatest = useRef(settle);
  settleLatest.current = settle;
  useEffect(() => watchJournal((e) => settleLatest.current(e)), []);

  const set = (k: keyof typeof f) => (e: Event) => {
    setF({ ...f, [k]: (e.target as HTMLInputElement).value });
    // A changed order is a new submission.
    key.current = null;
    setRetry(false);
  };

  function body() {
    const b: Record<string, unknown> = { symbol: f.symbol.trim(), type: f.type, volume: num(f.volume) ?? NaN };
    if (pending) b.price = num(f.price);
    if (f.sl.trim()) b.sl = num(f.sl);
    if (f.tp.trim()) b.tp = num(f.tp);
    if (f.comment.trim()) b.comment = f.comment.trim();
    return b as never;
  }

  async function submit() {
    if (inFlight.current || tradeOff) return;
    inFlight.current = true;
    setBusy(true);
    setError(undefined);
    setResult(undefined);
    if (!key.current) key.current = crypto.randomUUID();
    const k = key.current;
    try {
      const r = await call(api().POST("/api/v1/orders", { params: { header: { "Idempotency-Key": k } }, body: body() }));
      setResult(
        pending ? `Pending order placed: ${r.order} at ${price(r.price)}.` : `Order executed: ${r.order} at ${price(r.price)} (${r.comment}).`,
      );
      key.current = null;
      setRetry(false);
    } catch (e) {
      if (e instanceof ApiError && (e.code === "request_in_progress" || e.code === "order_outcome_unknown")) {
        const journalId = journalIdOf(e);
        setProgress({ key: k, status: e.code === "request_in_progress" ? "pending" : "unknown", journalId });
        setRetry(false);
        // Followed by its entry on the `orders` stream; read once too, in case it settled before.
        if (journalId) {
          call(api().GET("/api/v1/journal/{id}", { params: { path: { id: journalId } } }))
            .then((r) => settle(r.entry))
            .catch(() => undefined);
        }
      } else {
        const shown = describe(e);
        setError(shown);
        if (e instanceof ApiError && e.code === "read_only_account") setReadOnly(true);
        // Only an answer that may hide an executed order keeps the key for a retry.
        const ambiguous = !(e instanceof ApiError) || e.code === "terminal_timeout" || e.code === "journal_unavailable" || e.status >= 500;
        setRetry(ambiguous);
        if (!ambiguous) key.current = null;
      }
    } finally {
      inFlight.current = false;
      setBusy(false);
    }
  }

  async function check() {
    setError(undefined);
    setResult(undefined);
    try {
      const r = await call(api().POST("/api/v1/orders/check", { body: body() }));
      setResult(
        r.retcode === 0
          ? `Check passed: margin ${r.margin.toFixed(2)}, free margin after ${r.margin_free.toFixed(2)}.`
          : `Check failed: ${r.retcode} ${r.comment}.`,
      );
    } catch (e) {
      setError(describe(e));
    }
  }

  return (
    <form
      class="card ticket"
      aria-labelledby="ticket-title"
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      <h2 id="ticket-title">Order ticket</h2>
      {tradeOff && (
        <p class="banner" role="status">
          This account is read-only (investor password): it cannot trade. Checks still work.
        </p>
      )}
      <p class="quote" aria-live="off" data-testid="quote">
        {quote ? (
          <>
            Bid <strong>{price(quote.bid)}</strong> · Ask <strong>{price(quote.ask)}</strong>
          </>
        ) : (
          "Waiting for the quote…"
        )}
      </p>
      <div class="grid">
        <Field id="t-symbol" label="Symbol" name="symbol" error={error}>
          {(a) => <input {...a} required autocapitalize="characters" value={f.symbol} onInput={set("symbol")} />}
        </Field>
        <Field id="t-type" label="Type" name="type" error={error}>
          {(a) => (
            <select {...a} value={f.type} onChange={set("type")}>
              {TYPES.map(([v, l]) => (
                <option key={v} value={v}>
                  {l}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field id="t-volume" label="Volume (lots)" name="volume" error={error}>
          {(a) => <input {...a} required inputMode="decimal" value={f.volume} onInput={set("volume")} />}
        </Field>
        {pending && (
          <Field id="t-price" label="Price" name="price" error={error}>
            {(a) => <input {...a} required inputMode="decimal" value={f.price} onInput={set("price")} />}
          </Field>
        )}
        <Field id="t-sl" label="Stop loss" name="sl" error={error}>
          {(a) => <input {...a} inputMode="decimal" value={f.sl} onInput={set("sl")} />}
        </Field>
        <Field id="t-tp" label="Take profit" name="tp" error={error}>
          {(a) => <input {...a} inputMode="decimal" value={f.tp} onInput={set("tp")} />}
        </Field>
        <Field id="t-comment" label="Comment" name="comment" error={error}>
          {(a) => <input {...a} maxLength={27} value={f.comment} onInput={set("comment")} />}
        </Field>
      </div>
      <div class="buttons">
        <button type="submit" class="primary" disabled={busy || tradeOff || !!progress}>
          {busy ? "Sending…" : retry ? "Retry order" : pending ? "Place pending order" : f.type === "buy" ? "Buy" : "Sell"}
        </button>
        <button type="button" onClick={() => void check()}>
          Check
        </button>
      </div>
      <p class="status" role="status" aria-live="polite" data-testid="ticket-status">
        {progress ? `Order in progress (${progress.status}): following it in the journal…` : (result ?? "")}
      </p>
      {progress && (
        <button
          type="button"
          class="link"
          onClick={() => {
            // Stop following; a retry sends the same key, which answers the order's real outcome.
            setProgress(undefined);
            setRetry(true);
          }}
        >
          Stop following (the journal keeps it)
        </button>
      )}
      <ErrorText shown={error} />
      {state.stream !== "live" && <p class="hint">Live updates are not connected: the tables may be behind.</p>}
    </form>
  );
}
