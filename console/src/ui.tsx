// Small pieces every screen uses: times in local time with UTC on hover, money and sides told in
// words and signs (never by colour alone), labelled fields with their error, and a modal dialog.
import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { fieldError, type Shown } from "./errors.js";

const local = new Intl.DateTimeFormat(undefined, {
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
});

export function Time({ iso }: { iso: string | null | undefined }) {
  if (!iso) return <span>—</span>;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return <span>{iso}</span>;
  const utc = `${d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "")} UTC`;
  return (
    <time dateTime={d.toISOString()} title={utc}>
      {local.format(d)}
    </time>
  );
}

export function money(v: number | undefined | null, currency?: string): string {
  if (v === undefined || v === null || Number.isNaN(v)) return "—";
  const s = Math.abs(v).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  return `${v < 0 ? "−" : ""}${s}${currency ? ` ${currency}` : ""}`;
}

/** Profit or loss: a sign and a word for screen readers, the colour only on top. */
export function Pnl({ v, currency }: { v: number; currency?: string }) {
  const cls = v > 0 ? "gain" : v < 0 ? "loss" : "flat";
  const sign = v > 0 ? "+" : "";
  return (
    <span class={cls}>
      {sign}
      {money(v, currency)}
      <span class="sr-only">{v > 0 ? " profit" : v < 0 ? " loss" : ""}</span>
    </span>
  );
}

export function price(v: number | null | undefined): string {
  if (v === undefined || v === null || v === 0) return "—";
  return String(Number(v.toFixed(6)));
}

const SIDES: Record<string, [string, string]> = {
  buy: ["▲", "Buy"],
  sell: ["▼", "Sell"],
  buy_limit: ["▲", "Buy limit"],
  sell_limit: ["▼", "Sell limit"],
  buy_stop: ["▲", "Buy stop"],
  sell_stop: ["▼", "Sell stop"],
  buy_stop_limit: ["▲", "Buy stop limit"],
  sell_stop_limit: ["▼", "Sell stop limit"],
};

export function Side({ type }: { type: string }) {
  const [icon, word] = SIDES[type] ?? ["", type];
  return (
    <span class={type.startsWith("buy") ? "side buy" : type.startsWith("sell") ? "side sell" : "side"}>
      <span aria-hidden="true">{icon} </span>
      {word}
    </span>
  );
}

export function Field(props: {
  id: string;
  label: string;
  name?: string;
  error?: Shown;
  children: (attrs: Record<string, string | boolean | undefined>) => ComponentChildren;
  hint?: string;
}) {
  const msg = props.name ? fieldError(props.error, props.name) : undefined;
  const described = [msg ? `${props.id}-err` : "", props.hint ? `${props.id}-hint` : ""].filter(Boolean).join(" ");
  return (
    <div class={msg ? "field invalid" : "field"}>
      <label for={props.id}>{props.label}</label>
      {props.children({
        id: props.id,
        "aria-invalid": msg ? "true" : undefined,
        "aria-describedby": described || undefined,
      })}
      {props.hint && (
        <small id={`${props.id}-hint`} class="hint">
          {props.hint}
        </small>
      )}
      {msg && (
        <small id={`${props.id}-err`} class="field-error" role="alert">
          {msg}
        </small>
      )}
    </div>
  );
}

/** The refusal of a form, announced. */
export function ErrorText({ shown }: { shown: Shown | undefined }) {
  return (
    <p class="error" role="alert" aria-live="assertive">
      {shown ? shown.text : ""}
    </p>
  );
}

/** A modal dialog: focus moves in, Escape closes, focus returns where it was. */
export function Dialog(props: { title: string; onClose: () => void; children: ComponentChildren }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    const before = document.activeElement as HTMLElement | null;
    d?.showModal();
    return () => {
      d?.close();
      before?.focus?.();
    };
  }, []);
  return (
    <dialog
      ref={ref}
      aria-labelledby="dialog-title"
      onCancel={(e) => {
        e.preventDefault();
        props.onClose();
      }}
    >
      <h2 id="dialog-title">{props.title}</h2>
      {props.children}
    </dialog>
  );
}

export function useNow(everyMs = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(t);
  }, [everyMs]);
  return now;
}

export function num(v: string): number | undefined {
  const t = v.trim();
  if (t === "") return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : NaN;
}
