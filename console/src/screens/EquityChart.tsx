// A backtest's balance and equity curve, drawn with Lightweight Charts as the chart screen draws
// candles: the equity as a solid line, the balance dashed, and each bucket's lowest and highest
// equity as a shaded band (so a drawdown inside a bucket is seen, not smoothed away). A text
// summary (aria-describedby) and a "show as table" alternative tell the same.
import {
  LineSeries,
  LineStyle,
  createChart,
  customSeriesDefaultOptions,
  type CustomData,
  type CustomSeriesOptions,
  type CustomSeriesWhitespaceData,
  type ICustomSeriesPaneRenderer,
  type ICustomSeriesPaneView,
  type PaneRendererCustomData,
  type Time,
  type UTCTimestamp,
} from "lightweight-charts";
import { useEffect, useRef } from "preact/hooks";
import type { components } from "@mt5-bridge/client";
import { Time as When, money } from "../ui.js";
import { TradingViewLogo } from "./TradingViewLogo.js";

export type EquityPoint = components["schemas"]["EquityPoint"];

const EQUITY = "#1d4ed8";
const BALANCE = "#1f2933";
const BAND = "rgba(29, 78, 216, 0.18)";

interface Band extends CustomData<Time> {
  lo: number;
  hi: number;
}

/** The band between each bucket's lowest and highest equity, as one filled shape. */
class BandView implements ICustomSeriesPaneView<Time, Band, CustomSeriesOptions> {
  private data: PaneRendererCustomData<Time, Band> | undefined;
  private fill = BAND;

  renderer(): ICustomSeriesPaneRenderer {
    return {
      draw: (target, toY) => {
        const d = this.data;
        if (!d?.visibleRange || d.bars.length === 0) return;
        const from = Math.max(0, d.visibleRange.from - 1);
        const to = Math.min(d.bars.length, d.visibleRange.to + 1);
        const bars = d.bars.slice(from, to);
        target.useBitmapCoordinateSpace(({ context: ctx, horizontalPixelRatio: hr, verticalPixelRatio: vr }) => {
          const top: [number, number][] = [];
          const bottom: [number, number][] = [];
          for (const b of bars) {
            const hi = toY(b.originalData.hi);
            const lo = toY(b.originalData.lo);
            if (hi === null || lo === null) continue;
            top.push([b.x * hr, hi * vr]);
            bottom.push([b.x * hr, lo * vr]);
          }
          if (!top.length) return;
          ctx.beginPath();
          top.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
          for (let i = bottom.length - 1; i >= 0; i--) ctx.lineTo(bottom[i]![0], bottom[i]![1]);
          ctx.closePath();
          ctx.fillStyle = this.fill;
          ctx.strokeStyle = this.fill;
          ctx.lineWidth = Math.max(1, hr);
          ctx.fill();
          ctx.stroke();
        });
      },
    };
  }

  update(data: PaneRendererCustomData<Time, Band>, options: CustomSeriesOptions): void {
    this.data = data;
    this.fill = options.color;
  }

  priceValueBuilder(row: Band): number[] {
    return [row.lo, row.hi, row.hi];
  }

  isWhitespace(row: Band | CustomSeriesWhitespaceData<Time>): row is CustomSeriesWhitespaceData<Time> {
    return (row as Partial<Band>).lo === undefined;
  }

  defaultOptions(): CustomSeriesOptions {
    return { ...customSeriesDefaultOptions, color: BAND };
  }
}

/** Points with strictly increasing times (what the library requires). */
function ordered(points: EquityPoint[]): (EquityPoint & { t: UTCTimestamp })[] {
  const out: (EquityPoint & { t: UTCTimestamp })[] = [];
  for (const p of points) {
    const t = Math.floor(Date.parse(p.time) / 1000) as UTCTimestamp;
    if (!Number.isFinite(t)) continue;
    if (out.length && t <= out[out.length - 1]!.t) continue;
    out.push({ ...p, t });
  }
  return out;
}

export function equitySummary(points: EquityPoint[], currency: string | undefined): string {
  if (!points.length) return "No equity curve: the backtest has no points.";
  const first = points[0]!;
  const last = points[points.length - 1]!;
  const low = points.reduce((a, p) => (p.equity_min < a.equity_min ? p : a), first);
  const high = points.reduce((a, p) => (p.equity_max > a.equity_max ? p : a), first);
  const when = (iso: string) => new Date(iso).toLocaleString();
  return (
    `${points.length} points from ${when(first.time)} to ${when(last.time)}. ` +
    `Balance ${money(first.balance, currency)} at the start, ${money(last.balance, currency)} at the end; ` +
    `equity ${money(last.equity, currency)} at the end, lowest ${money(low.equity_min, currency)} (${when(low.time)}), ` +
    `highest ${money(high.equity_max, currency)} (${when(high.time)}).`
  );
}

export function EquityChart(props: { points: EquityPoint[]; currency?: string; label: string; summaryId: string }) {
  const box = useRef<HTMLDivElement>(null);
  const { points } = props;

  useEffect(() => {
    if (!box.current) return;
    const c = createChart(box.current, {
      autoSize: true,
      layout: { attributionLogo: false, background: { color: "#ffffff" }, textColor: "#1f2933" },
      timeScale: { timeVisible: true },
    });
    const rows = ordered(points);
    const band = c.addCustomSeries(new BandView(), { color: BAND, lastValueVisible: false, priceLineVisible: false, title: "" });
    band.setData(rows.map((p) => ({ time: p.t, lo: p.equity_min, hi: p.equity_max })));
    const balance = c.addSeries(LineSeries, { color: BALANCE, lineWidth: 2, lineStyle: LineStyle.Dashed, title: "Balance", priceLineVisible: false });
    balance.setData(rows.map((p) => ({ time: p.t, value: p.balance })));
    const equity = c.addSeries(LineSeries, { color: EQUITY, lineWidth: 2, title: "Equity", priceLineVisible: false });
    equity.setData(rows.map((p) => ({ time: p.t, value: p.equity })));
    c.timeScale().fitContent();
    return () => c.remove();
  }, [points]);

  return (
    <>
      <ul class="legend" aria-label="Legend">
        <li>
          <span class="swatch line" aria-hidden="true" /> Equity (solid line)
        </li>
        <li>
          <span class="swatch dashed" aria-hidden="true" /> Balance (dashed line)
        </li>
        <li>
          <span class="swatch band" aria-hidden="true" /> Lowest to highest equity within each point (shaded band)
        </li>
      </ul>
      <div class="chart-box">
        <div class="chart equity" ref={box} role="figure" aria-label={props.label} aria-describedby={props.summaryId} data-testid="equity-chart" />
        <TradingViewLogo />
      </div>
    </>
  );
}

export function EquityTable({ points, currency, caption }: { points: EquityPoint[]; currency?: string; caption: string }) {
  return (
    <div class="table-wrap" tabIndex={0} role="region" aria-label="Equity curve as a table">
      <table data-testid="equity-table">
        <caption>{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">Balance</th>
            <th scope="col">Equity</th>
            <th scope="col">Lowest equity</th>
            <th scope="col">Highest equity</th>
          </tr>
        </thead>
        <tbody>
          {points.map((p) => (
            <tr key={p.time}>
              <td>
                <When iso={p.time} />
              </td>
              <td>{money(p.balance, currency)}</td>
              <td>{money(p.equity, currency)}</td>
              <td>{money(p.equity_min, currency)}</td>
              <td>{money(p.equity_max, currency)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
