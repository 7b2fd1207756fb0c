// A typed client for mt5-bridge: every route of /openapi.json through openapi-fetch, errors as
// `ApiError` with the documented codes, an `Idempotency-Key` on every order call, and the live
// stream (./stream.ts).
import createClient, { type Client, type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema.js";

export type { components, paths } from "./schema.js";
export * from "./stream.js";

/** Every documented error code (docs/errors.md). */
export type ErrorCode = components["schemas"]["ErrorCode"];
export type JournalEntry = components["schemas"]["JournalEntry"];
export type AlgorithmRun = components["schemas"]["AlgorithmRun"];

/** A refusal of the service: its HTTP status, stable `code`, message and per-code details. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: ErrorCode;
  readonly details: unknown;

  constructor(status: number, code: ErrorCode, message: string, details: unknown) {
    super(`${status} ${code}: ${message}`);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export interface BridgeOptions {
  /** Where the service answers, e.g. `https://bridge.example.com`. */
  baseUrl: string;
  /** The user's Supabase access token, or a function that gives the current one. */
  token: string | (() => string | Promise<string>);
  /** The account trading routes act on (`X-Account-Id`); the user's current account when left out. */
  accountId?: string;
  /** A fetch of your own (tests, proxies); the global one by default. */
  fetch?: typeof globalThis.fetch;
}

/** Routes that send an order: each call gets an `Idempotency-Key` unless the caller gave one. */
const ORDER_ROUTES: [string, RegExp][] = [
  ["POST", /\/api\/v1\/orders$/],
  ["PUT", /\/api\/v1\/orders\/\d+$/],
  ["DELETE", /\/api\/v1\/orders\/\d+$/],
  ["PUT", /\/api\/v1\/positions\/\d+$/],
  ["POST", /\/api\/v1\/positions\/\d+\/close$/],
];

export function isOrderCall(method: string, url: string): boolean {
  const path = new URL(url).pathname;
  return ORDER_ROUTES.some(([m, re]) => m === method.toUpperCase() && re.test(path));
}

export type BridgeClient = Client<paths>;

/** A client of every route, typed from the service's own document. */
export function createBridgeClient(options: BridgeOptions): BridgeClient {
  const client = createClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ""),
    fetch: options.fetch,
  });
  const headers: Middleware = {
    async onRequest({ request }) {
      const token = typeof options.token === "function" ? await options.token() : options.token;
      request.headers.set("Authorization", `Bearer ${token}`);
      if (options.accountId && !request.headers.has("X-Account-Id")) {
        request.headers.set("X-Account-Id", options.accountId);
      }
      if (isOrderCall(request.method, request.url) && !request.headers.has("Idempotency-Key")) {
        request.headers.set("Idempotency-Key", crypto.randomUUID());
      }
      return request;
    },
  };
  client.use(headers);
  return client;
}

/** The data of a call, or its refusal thrown as an `ApiError`. */
export async function ok<T>(
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  const { data, error, response } = await call;
  if (response.ok && data !== undefined) {
    return data;
  }
  const body = (error ?? {}) as {
    error?: { code?: ErrorCode; message?: string; details?: unknown };
  };
  const e = body.error;
  throw new ApiError(
    response.status,
    e?.code ?? "internal_error",
    e?.message ?? response.statusText,
    e?.details ?? null,
  );
}
