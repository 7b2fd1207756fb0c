// Refusals as the console shows them: the message of the code, fields of a 422, the wait of a 429.
import { ApiError, type ErrorCode } from "@mt5-bridge/client";
import { MESSAGES, SCOPES } from "./messages.js";

/** Fails to compile when a code of the client's union has no message. */
const COVERED: Record<ErrorCode, string> = MESSAGES;
void COVERED;

export interface FieldError {
  field: string;
  message: string;
}

/** A refusal as the console shows it. */
export interface Shown {
  code: string;
  text: string;
  fields: FieldError[];
  retryAfter?: number;
}

function detailsOf(e: ApiError): Record<string, unknown> {
  return e.details && typeof e.details === "object" ? (e.details as Record<string, unknown>) : {};
}

export function describe(err: unknown): Shown {
  if (err instanceof ApiError) {
    const d = detailsOf(err);
    const base = (MESSAGES as Record<string, string>)[err.code] ?? err.message;
    const fields = Array.isArray(d.fields) ? (d.fields as FieldError[]) : [];
    let text = base;
    let retryAfter: number | undefined;
    if (err.code === "rate_limited") {
      retryAfter = typeof d.retry_after_seconds === "number" ? d.retry_after_seconds : undefined;
      const scope = typeof d.scope === "string" ? (SCOPES[d.scope] ?? d.scope) : "";
      text = `Too many ${scope || "requests"}${typeof d.limit === "number" ? ` (limit ${d.limit})` : ""}.`;
      if (retryAfter !== undefined) text += ` Try again in ${waitText(retryAfter)}.`;
    } else if (err.code === "trade_rejected" && d.retcode) {
      text = `${base} ${String(d.retcode)} ${String(d.retcode_name ?? "")}${d.comment ? `: ${String(d.comment)}` : ""}`;
    } else if (err.code === "mt5_login_failed" && d.mt5_error_code !== undefined) {
      text = `${base} (MT5 ${String(d.mt5_error_code)} ${String(d.mt5_error_message ?? "")})`;
    } else if (err.code === "risk_limit_exceeded" && d.limit) {
      text = `${base} (${String(d.limit)})`;
    } else if (err.code === "bot_limit_reached" && typeof d.limit === "number") {
      text = `${base} Limit: ${d.limit} bots ${d.setting === "BOTS_PER_ACCOUNT" ? "on this account" : "in all"}.`;
    } else if (err.code === "bot_symbol_taken" && typeof d.symbol === "string") {
      text = `${base} Symbol: ${d.symbol}.`;
    } else if (err.code === "bot_state_conflict" && typeof d.state === "string") {
      text = `${base} It is ${d.state}.`;
    } else if (fields.length && (err.code === "validation_failed" || err.code === "invalid_combination")) {
      text = `${base} ${fields.map((f) => `${f.field}: ${f.message}`).join("; ")}`;
    }
    return { code: err.code, text, fields, retryAfter };
  }
  const text = err instanceof Error ? err.message : String(err);
  return { code: "network", text: `The service could not be reached (${text}).`, fields: [] };
}

export function waitText(seconds: number): string {
  if (seconds < 90) return `${Math.ceil(seconds)} s`;
  const m = Math.ceil(seconds / 60);
  return m < 90 ? `${m} min` : `${Math.ceil(m / 60)} h`;
}

/** The message of one field of a 422, if it has one. */
export function fieldError(shown: Shown | undefined, field: string): string | undefined {
  return shown?.fields.find((f) => f.field === field || f.field.startsWith(`${field}.`) || f.field.startsWith(`${field}[`))
    ?.message;
}
