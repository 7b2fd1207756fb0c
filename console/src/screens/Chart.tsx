// Chart: candles from the rates route, with the open positions' entry, SL and TP as price lines;
// a text summary (aria-describedby) and a "show as table" alternative for those who do not see it.
import { CandlestickSeries, createChart, type IChartApi, type IPriceLine, type ISeriesApi, type UTCTimestamp } from "lightweight-charts";
import { useEffect, useRef, useState } from "preact/hooks";
import type { components } from "@mt5-bridge/client";
import { describe } from "../errors.js";
import { api, call, useStore } from "../state.js";
import { Time, price } from "../ui.js";
import { TradingViewLogo } from "./TradingViewLogo.js";

type Rate = components["schemas"]["Rate"];
const TIMEFRAMES = ["M1", "M5", "M15", "M30", "H1", "H4", "D1"] as const;

export function Chart() {
  const s = useStore();
  const [symbol, setSymbol] = useState("EURUSD");
  const [shown, setShown] = useState("EURUSD");
  const [tf, setTf] = useState<(typeof TIMEFRAMES)[number]>("H1");
  const [rates, setRates] = useState<Rate[]>();
  const [error, setError] = useState<string>();
  const [table, setTable] = useState(false);
  const box = useRef<HTMLDivElement>(null);
  const chart = useRef<IChartApi | undefined>(undefined);
  const series = useRef<ISeriesApi<"Candlestick"> | undefined>(undefined);
  const lines = useRef<IPriceLine[]>([]);

  useEffect(() => {
    let stale = false;
    setError(undefined);
    call(api().GET("/api/v1/symbols/{symbol}/rates", { params: { path: { symbol: shown }, query: { timeframe: tf.toLowerCase() as "h1", count: 200 } } }))
      .then((r) => !stale && setRates(r.rates))
      .catch((e) => !stale && (setRates(undefined), setError(describe(e).text)));
    return () => {
      stale = true;
    };
  }, [shown, tf, s.accountId, s.epoch]);

  useEffect(() => {
    if (!box.current) return;
    const c = createChart(box.current, {
      autoSize: true,
      // The library's own logo injects a <style> element, which the console's CSP refuses; the same
      // logo and link are drawn below (TradingViewLogo), styled from the console's stylesheet.
      layout: { attributionLogo: false, background: { color: "#ffffff" }, textColor: "#1f2933" },
      timeScale: { timeVisible: true },
    });
    chart.current = c;
    series.current = c.addSeries(CandlestickSeries, {
      upColor: "#1a7f37",
      downColor: "#b42318",
      borderVisible: false,
      wickUpColor: "#1a7f37",
      wickDownColor: "#b42318",
    });
    return () => {
      c.remove();
      chart.current = undefined;
      series.current = undefined;
      lines.current = [];
    };
  }, []);

  useEffect(() => {
    series.current?.setData(
      (rates ?? []).map((r) => ({ time: (Date.parse(r.time ?? "") / 1000) as UTCTimestamp, open: r.open, high: r.high, low: r.low, close: r.close })),
    );
    chart.current?.timeScale().fitContent();
  }, [rates]);

  const mine = (s.positions ?? []).filter((p) => p.symbol === shown);
  useEffect(() => {
    const ser = series.current;
    if (!ser) return;
    for (const l of lines.current) ser.removePriceLine(l);
    lines.current = [];
    for (const p of mine) {
      const side = p.type === "buy" ? "Buy" : p.type === "sell" ? "Sell" : p.type;
      lines.current.push(ser.createPriceLine({ price: p.price_open, color: "#1d4ed8", lineWidth: 1, lineStyle: 0, title: `${side} ${p.volume} #${p.ticket}` }));
      if (p.sl) lines.current.push(ser.createPriceLine({ price: p.sl, color: "#b42318", lineWidth: 1, lineStyle: 2, title: `SL #${p.ticket}` }));
      if (p.tp) lines.current.push(ser.createPriceLine({ price: p.tp, color: "#1a7f37", lineWidth: 1, lineStyle: 2, title: `TP #${p.ticket}` }));
    }
  }, [JSON.stringify(mine.map((p) => [p.ticket, p.price_open, p.sl, p.tp])), rates]);

  const last = rates?.[rates.length - 1];
  const hi = rates?.length ? Math.max(...rates.map((r) => r.high)) : undefined;
  const lo = rates?.length ? Math.min(...rates.map((r) => r.low)) : undefined;
  const summary = rates?.length
    ? `${shown} ${tf}: ${rates.length} candles from ${new Date(rates[0]!.time ?? 0).toLocaleString()} to ${new Date(last!.time ?? 0).toLocaleString()}; ` +
      `last close ${price(last!.close)}, highest ${price(hi)}, lowest ${price(lo)}. ` +
      (mine.length
        ? `Open positions: ${mine.map((p) => `${p.type} ${p.volume} at ${price(p.price_open)}${p.sl ? `, SL ${price(p.sl)}` : ""}${p.tp ? `, TP ${price(p.tp)}` : ""}`).join("; ")}.`
        : "No open position on this symbol.")
    : "No candles.";

  return (
    <section>
      <h1 tabIndex={-1}>Chart</h1>
      <form
        class="inline"
        onSubmit={(e) => {
          e.preventDefault();
          setShown(symbol.trim().toUpperCase());
        }}
      >
        <label for="ch-symbol">Symbol</label>
        <input id="ch-symbol" value={symbol} onInput={(e) => setSymbol((e.target as HTMLInputElement).value)} />
        <label for="ch-tf">Timeframe</label>
        <select id="ch-tf" value={tf} onChange={(e) => setTf((e.target as HTMLSelectElement).value as (typeof TIMEFRAMES)[number])}>
          {TIMEFRAMES.map((t) => (
            <option key={t}>{t}</option>
          ))}
        </select>
        <button type="submit">Show</button>
        <button type="button" aria-pressed={table} onClick={() => setTable(!table)}>
          {table ? "Hide table" : "Show as table"}
        </button>
      </form>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <p id="chart-summary" class="chart-summary" data-testid="chart-summary">
        {summary}
      </p>
      <div class="chart-box">
        <div class="chart" ref={box} role="figure" aria-label={`Candle chart of ${shown}, ${tf}`} aria-describedby="chart-summary" data-testid="chart" />
        <TradingViewLogo />
      </div>
      {table && rates && (
        <div class="table-wrap" tabIndex={0} role="region" aria-label="Candles as a table">
          <table>
            <caption>
              {shown} {tf} candles
            </caption>
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Open</th>
                <th scope="col">High</th>
                <th scope="col">Low</th>
                <th scope="col">Close</th>
                <th scope="col">Tick volume</th>
              </tr>
            </thead>
            <tbody>
              {[...rates].reverse().map((r) => (
                <tr key={r.time ?? ""}>
                  <td>
                    <Time iso={r.time} />
                  </td>
                  <td>{price(r.open)}</td>
                  <td>{price(r.high)}</td>
                  <td>{price(r.low)}</td>
                  <td>{price(r.close)}</td>
                  <td>{r.tick_volume}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
