// History: the account's deals and orders in a window, page by page (the service's cursors).
import { useEffect, useState } from "preact/hooks";
import type { components } from "@mt5-bridge/client";
import { describe } from "../errors.js";
import { api, call, useStore } from "../state.js";
import { Pnl, Side, Time, price } from "../ui.js";

type Deal = components["schemas"]["TradeDeal"];
type Order = components["schemas"]["TradeOrder"];
const PAGE = 20;

function isoLocal(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function History() {
  const s = useStore();
  const [kind, setKind] = useState<"deals" | "orders">("deals");
  const [from, setFrom] = useState(isoLocal(new Date(Date.now() - 7 * 86_400_000)));
  const [to, setTo] = useState("");
  /** The cursors of the pages read so far: [undefined, c1, c2…]; the last one is the page shown. */
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const [rows, setRows] = useState<Deal[] | Order[]>();
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<string>();
  const [query, setQuery] = useState(0);

  const cursor = cursors[cursors.length - 1];
  useEffect(() => {
    let stale = false;
    setError(undefined);
    const q = {
      limit: PAGE,
      ...(cursor ? { cursor } : { from: new Date(from).toISOString(), ...(to ? { to: new Date(to).toISOString() } : {}) }),
    };
    const p =
      kind === "deals"
        ? call(api().GET("/api/v1/history/deals", { params: { query: q } })).then((r) => [r.deals, r.next_cursor] as const)
        : call(api().GET("/api/v1/history/orders", { params: { query: q } })).then((r) => [r.orders, r.next_cursor] as const);
    p.then(([list, nc]) => {
      if (stale) return;
      setRows(list);
      setNext(nc);
    }).catch((e) => !stale && setError(describe(e).text));
    return () => {
      stale = true;
    };
  }, [kind, cursor, query, s.accountId]);

  const page = cursors.length;
  return (
    <section>
      <h1 tabIndex={-1}>History</h1>
      <form
        class="inline"
        onSubmit={(e) => {
          e.preventDefault();
          setCursors([undefined]);
          setQuery(query + 1);
        }}
      >
        <fieldset class="tabs">
          <legend class="sr-only">What to list</legend>
          {(["deals", "orders"] as const).map((k) => (
            <label key={k}>
              <input
                type="radio"
                name="kind"
                value={k}
                checked={kind === k}
                onChange={() => {
                  setKind(k);
                  setRows(undefined);
                  setCursors([undefined]);
                }}
              />
              {k === "deals" ? "Deals" : "Orders"}
            </label>
          ))}
        </fieldset>
        <label for="h-from">From</label>
        <input id="h-from" type="datetime-local" value={from} onInput={(e) => setFrom((e.target as HTMLInputElement).value)} />
        <label for="h-to">To (empty: now)</label>
        <input id="h-to" type="datetime-local" value={to} onInput={(e) => setTo((e.target as HTMLInputElement).value)} />
        <button type="submit">Show</button>
      </form>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {rows === undefined ? (
        <p>Loading…</p>
      ) : rows.length === 0 ? (
        <p>Nothing in this window.</p>
      ) : (
        <div class="table-wrap" tabIndex={0} role="region" aria-label={`History ${kind}, page ${page}`}>
          {kind === "deals" ? <Deals deals={rows as Deal[]} /> : <Orders orders={rows as Order[]} />}
        </div>
      )}
      <nav class="pager" aria-label="Pages">
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

function Deals({ deals }: { deals: Deal[] }) {
  return (
    <table data-testid="deals">
      <caption>Deals</caption>
      <thead>
        <tr>
          <th scope="col">Time</th>
          <th scope="col">Ticket</th>
          <th scope="col">Order</th>
          <th scope="col">Symbol</th>
          <th scope="col">Type</th>
          <th scope="col">Entry</th>
          <th scope="col">Volume</th>
          <th scope="col">Price</th>
          <th scope="col">Profit</th>
        </tr>
      </thead>
      <tbody>
        {deals.map((d) => (
          <tr key={d.ticket} data-ticket={d.ticket}>
            <td>
              <Time iso={d.time} />
            </td>
            <td>{d.ticket}</td>
            <td>{d.order || "—"}</td>
            <td>{d.symbol || "—"}</td>
            <td>
              <Side type={d.type} />
            </td>
            <td>{d.entry}</td>
            <td>{d.volume}</td>
            <td>{price(d.price)}</td>
            <td>
              <Pnl v={d.profit} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Orders({ orders }: { orders: Order[] }) {
  return (
    <table data-testid="history-orders">
      <caption>Orders</caption>
      <thead>
        <tr>
          <th scope="col">Placed</th>
          <th scope="col">Ticket</th>
          <th scope="col">Symbol</th>
          <th scope="col">Type</th>
          <th scope="col">Volume</th>
          <th scope="col">Price</th>
          <th scope="col">State</th>
          <th scope="col">Done</th>
        </tr>
      </thead>
      <tbody>
        {orders.map((o) => (
          <tr key={o.ticket} data-ticket={o.ticket}>
            <td>
              <Time iso={o.time_setup} />
            </td>
            <td>{o.ticket}</td>
            <td>{o.symbol}</td>
            <td>
              <Side type={o.type} />
            </td>
            <td>{o.volume_initial}</td>
            <td>{price(o.price_open)}</td>
            <td>{o.state}</td>
            <td>
              <Time iso={o.time_done} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
