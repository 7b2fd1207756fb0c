// Sign-in as a Supabase frontend would: a pasted access token, an implicit-flow redirect fragment,
// or (when the service names a Supabase project in /console/config.json) e-mail sign-in through
// @supabase/auth-js, which refreshes the token; each new token reaches the client and the stream
// through `currentToken()`.
import type { AuthClient as AuthClientClass } from "@supabase/auth-js";

type AuthClient = InstanceType<typeof AuthClientClass>;

export interface ConsoleConfig {
  supabase_url: string | null;
  supabase_publishable_key: string | null;
}

export type Source = "token" | "supabase";

export interface Session {
  source: Source;
  /** The access token now (refreshed by auth-js in Supabase mode). */
  token: string;
  email?: string;
}

const STORE_KEY = "mt5-console-token";
const AUTH_KEY = "mt5-console-auth";

export async function loadConfig(): Promise<ConsoleConfig> {
  try {
    const r = await fetch("/console/config.json", { cache: "no-store" });
    if (r.ok) return (await r.json()) as ConsoleConfig;
  } catch {
    // no configuration: token sign-in only
  }
  return { supabase_url: null, supabase_publishable_key: null };
}

export interface Fragment {
  accessToken?: string;
  refreshToken?: string;
  error?: string;
}

/** Reads an implicit-flow fragment once and removes it from the address bar. */
export function takeFragment(): Fragment | undefined {
  const hash = location.hash.replace(/^#/, "");
  if (!hash) return undefined;
  const p = new URLSearchParams(hash);
  if (!p.has("access_token") && !p.has("error") && !p.has("error_description")) return undefined;
  history.replaceState(history.state, "", location.pathname + location.search);
  if (p.has("access_token")) {
    return { accessToken: p.get("access_token") ?? "", refreshToken: p.get("refresh_token") ?? undefined };
  }
  const what = p.get("error_description") ?? p.get("error") ?? "sign-in failed";
  return { error: what.replace(/\+/g, " ") };
}

/** The `exp` of a JWT in ms, when it has one. */
export function expiresAt(token: string): number | undefined {
  try {
    const part = (token.split(".")[1] ?? "").replace(/-/g, "+").replace(/_/g, "/");
    const payload = JSON.parse(atob(part)) as { exp?: number; email?: string };
    return typeof payload.exp === "number" ? payload.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

export function looksLikeJwt(token: string): boolean {
  return /^[\w-]+\.[\w-]+\.[\w-]*$/.test(token.trim());
}

class MemoryStorage {
  private readonly m = new Map<string, string>();
  getItem(k: string): string | null {
    return this.m.get(k) ?? null;
  }
  setItem(k: string, v: string): void {
    this.m.set(k, v);
  }
  removeItem(k: string): void {
    this.m.delete(k);
  }
}

let supabase: AuthClient | undefined;
let pasted: string | undefined;

export function rememberedToken(): string | undefined {
  try {
    return sessionStorage.getItem(STORE_KEY) ?? undefined;
  } catch {
    return undefined;
  }
}

export function usePastedToken(token: string, remember: boolean): void {
  pasted = token.trim();
  supabase = undefined;
  try {
    if (remember) sessionStorage.setItem(STORE_KEY, pasted);
    else sessionStorage.removeItem(STORE_KEY);
  } catch {
    // storage refused: memory only
  }
}

/** The token for the next call: auth-js refreshes it first when it is about to expire. */
export async function currentToken(): Promise<string> {
  if (supabase) {
    const { data } = await supabase.getSession();
    return data.session?.access_token ?? "";
  }
  return pasted ?? "";
}

export async function supabaseClient(
  config: ConsoleConfig,
  remember: boolean,
  onToken: (token: string | undefined, email?: string) => void,
): Promise<AuthClient> {
  const { AuthClient } = await import("@supabase/auth-js");
  const url = `${(config.supabase_url ?? "").replace(/\/+$/, "")}/auth/v1`;
  const client = new AuthClient({
    url,
    headers: { apikey: config.supabase_publishable_key ?? "" },
    storageKey: AUTH_KEY,
    storage: remember ? sessionStorage : new MemoryStorage(),
    detectSessionInUrl: false,
    autoRefreshToken: true,
    persistSession: true,
  });
  client.onAuthStateChange((_event, session) => {
    onToken(session?.access_token, session?.user?.email);
  });
  supabase = client;
  pasted = undefined;
  return client;
}

/** Whether this tab remembers a Supabase session (the "remember on this tab" box was ticked). */
export function hasRememberedSupabase(): boolean {
  try {
    return sessionStorage.getItem(AUTH_KEY) !== null;
  } catch {
    return false;
  }
}

export function activeSupabase(): AuthClient | undefined {
  return supabase;
}

export async function signOutEverywhere(): Promise<void> {
  try {
    sessionStorage.removeItem(STORE_KEY);
  } catch {
    // nothing stored
  }
  pasted = undefined;
  const s = supabase;
  supabase = undefined;
  if (s) {
    try {
      await s.signOut({ scope: "local" });
    } catch {
      // signed out locally anyway
    }
  }
}

/**
 * A stored-credential action answered `403 mfa_required`: runs Supabase's TOTP challenge when the
 * user has a verified factor. `askCode` asks the person for the 6 digits. True when the session
 * now passed MFA (retry the action).
 */
export async function stepUpWithTotp(askCode: () => Promise<string | null>): Promise<boolean | "no_factor"> {
  const s = supabase;
  if (!s) return "no_factor";
  const { data, error } = await s.mfa.listFactors();
  if (error) throw error;
  const factor = data?.totp?.[0];
  if (!factor) return "no_factor";
  const code = await askCode();
  if (!code) return false;
  const r = await s.mfa.challengeAndVerify({ factorId: factor.id, code });
  if (r.error) throw r.error;
  return true;
}
