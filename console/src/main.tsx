// The console: sign-in, then the shell (account switcher, summary bar, screens) over the chosen
// account. Screens are addressed by path under /console/ so a deep link reloads to the same one.
import { render } from "preact";
import { lazy, Suspense } from "preact/compat";
import { useEffect, useState } from "preact/hooks";
import {
  activeSupabase,
  hasRememberedSupabase,
  loadConfig,
  rememberedToken,
  signOutEverywhere,
  supabaseClient,
  takeFragment,
  usePastedToken,
  type ConsoleConfig,
} from "./auth.js";
import {
  api,
  call,
  chooseAccount,
  clearBanner,
  initialAccountFromUrl,
  loadAccounts,
  restartStream,
  state,
  stopStream,
  toast,
  update,
  useStore,
  whenExpired,
} from "./state.js";
import { describe, waitText } from "./errors.js";
import { Dialog, money, useNow } from "./ui.js";
import { SignIn } from "./screens/SignIn.js";
import { Accounts } from "./screens/Accounts.js";
import { Trade } from "./screens/Trade.js";
import { History } from "./screens/History.js";
import { Journal } from "./screens/Journal.js";
import { Algorithms } from "./screens/Algorithms.js";
import "./style.css";

// The chart screen brings lightweight-charts, so it loads only when opened.
const Chart = lazy(() => import("./screens/Chart.js").then((m) => ({ default: m.Chart })));
// So does the backtests screen (its equity curves).
const Backtests = lazy(() => import("./screens/Backtests.js").then((m) => ({ default: m.Backtests })));
// The bots screen is loaded when opened, too.
const Bots = lazy(() => import("./screens/Bots.js").then((m) => ({ default: m.Bots })));

const SCREENS = [
  ["positions", "Trade"],
  ["chart", "Chart"],
  ["history", "History"],
  ["journal", "Journal"],
  ["algorithms", "Algorithms"],
  ["bots", "Bots"],
  ["backtests", "Backtests"],
  ["accounts", "Accounts"],
] as const;
type Screen = (typeof SCREENS)[number][0];

function screenFromPath(): Screen {
  const rest = location.pathname.replace(/^\/console\/?/, "").split("/")[0] ?? "";
  return (SCREENS.find(([s]) => s === rest)?.[0] ?? "positions") as Screen;
}

export function navigate(screen: Screen): void {
  history.pushState(null, "", `/console/${screen}${location.search}`);
  dispatchEvent(new PopStateEvent("popstate"));
}

let config: ConsoleConfig = { supabase_url: null, supabase_publishable_key: null };

function App() {
  const s = useStore();
  const [screen, setScreen] = useState<Screen>(screenFromPath());
  const [ready, setReady] = useState(false);
  const [about, setAbout] = useState(false);

  useEffect(() => {
    const pop = () => setScreen(screenFromPath());
    addEventListener("popstate", pop);
    return () => removeEventListener("popstate", pop);
  }, []);

  useEffect(() => {
    document.title = `${SCREENS.find(([k]) => k === screen)?.[1] ?? ""} · mt5-bridge console`;
    const h = document.querySelector<HTMLElement>("main h1");
    h?.focus({ preventScroll: true });
  }, [screen]);

  useEffect(() => {
    void (async () => {
      initialAccountFromUrl();
      config = await loadConfig();
      const fragment = takeFragment();
      if (fragment?.error) {
        update({ signInReason: `Sign-in failed: ${fragment.error}` });
      } else if (fragment?.accessToken) {
        if (config.supabase_url && fragment.refreshToken) {
          const c = await supabaseClient(config, false, onSupabaseToken);
          const r = await c.setSession({ access_token: fragment.accessToken, refresh_token: fragment.refreshToken });
          if (r.error) update({ signInReason: `Sign-in failed: ${r.error.message}` });
          else signedIn();
        } else {
          usePastedToken(fragment.accessToken, false);
          signedIn();
        }
      } else if (rememberedToken()) {
        usePastedToken(rememberedToken() ?? "", true);
        signedIn();
      } else if (config.supabase_url && hasRememberedSupabase()) {
        const c = await supabaseClient(config, true, onSupabaseToken);
        const { data } = await c.getSession();
        if (data.session) signedIn();
      }
      setReady(true);
    })();
    whenExpired((reason) => {
      if (!state.signedIn) return;
      stopStream();
      update({ signedIn: false, signInReason: reason });
    });
  }, []);

  if (!ready) return <p class="loading">Loading…</p>;
  if (!s.signedIn) {
    return <SignIn config={config} reason={s.signInReason} onToken={signInWithToken} onSupabase={signInWithSupabase} />;
  }
  return (
    <div class="shell">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">mt5-bridge</span>
        <AccountSwitcher />
        <StreamStatus />
        <button type="button" class="link" onClick={() => setAbout(true)}>
          About
        </button>
        <button type="button" class="link" onClick={() => void signOut()}>
          Sign out
        </button>
      </header>
      <nav aria-label="Screens">
        <ul>
          {SCREENS.map(([key, label]) => (
            <li key={key}>
              <a
                href={`/console/${key}${location.search}`}
                aria-current={screen === key ? "page" : undefined}
                onClick={(e) => {
                  if (e.ctrlKey || e.metaKey || e.shiftKey) return;
                  e.preventDefault();
                  navigate(key);
                }}
              >
                {label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <SummaryBar />
      <Banners />
      <main id="main">
        {s.accounts === undefined ? (
          s.accountsError ? (
            <p role="alert" class="error">
              {s.accountsError}
            </p>
          ) : (
            <p>Loading your accounts…</p>
          )
        ) : s.accountMissing ? (
          <section>
            <h1 tabIndex={-1}>Account not found</h1>
            <p role="alert">
              Account not found: the address names an account that is not one of yours (or no longer exists).
            </p>
            <button type="button" onClick={() => chooseAccount(s.accounts?.find((a) => a.is_default)?.id ?? s.accounts?.[0]?.id)}>
              Show my default account
            </button>
          </section>
        ) : screen === "accounts" || (s.accounts && s.accounts.length === 0) ? (
          <Accounts />
        ) : screen === "chart" ? (
          <Suspense fallback={<p>Loading the chart…</p>}>
            <Chart />
          </Suspense>
        ) : screen === "history" ? (
          <History />
        ) : screen === "journal" ? (
          <Journal />
        ) : screen === "algorithms" ? (
          <Algorithms />
        ) : screen === "bots" ? (
          <Suspense fallback={<p>Loading the bots…</p>}>
            <Bots />
          </Suspense>
        ) : screen === "backtests" ? (
          <Suspense fallback={<p>Loading the backtests…</p>}>
            <Backtests />
          </Suspense>
        ) : (
          <Trade />
        )}
      </main>
      <Toasts />
      {about && <About onClose={() => setAbout(false)} />}
    </div>
  );
}

function signedIn(): void {
  update({ signedIn: true, signInReason: undefined });
  void loadAccounts().then(() => {
    if (state.stream === "off") restartStream();
  });
}

function onSupabaseToken(token: string | undefined): void {
  if (!token && state.signedIn && activeSupabase()) {
    stopStream();
    update({ signedIn: false, signInReason: "Your Supabase session ended. Sign in again." });
  }
}

function signInWithToken(token: string, remember: boolean): void {
  usePastedToken(token, remember);
  signedIn();
}

async function signInWithSupabase(email: string, password: string, remember: boolean): Promise<string | undefined> {
  const c = await supabaseClient(config, remember, onSupabaseToken);
  const { error } = await c.signInWithPassword({ email, password });
  if (error) return error.message;
  signedIn();
  return undefined;
}

async function signOut(): Promise<void> {
  stopStream();
  await signOutEverywhere();
  update({ signedIn: false, signInReason: undefined, accounts: undefined, summary: undefined, positions: undefined });
}

function AccountSwitcher() {
  const s = useStore();
  const [busy, setBusy] = useState(false);
  const accounts = s.accounts ?? [];
  if (!accounts.length) return <span class="switcher" />;
  return (
    <div class="switcher">
      <label for="account-switcher">Account</label>
      <select id="account-switcher" value={s.accountId ?? ""} onChange={(e) => chooseAccount((e.target as HTMLSelectElement).value)}>
        {s.accountMissing && <option value={s.accountId}>(not found)</option>}
        {accounts.map((a) => (
          <option key={a.id} value={a.id}>
            {a.account_name} · {a.login} · {a.server}
            {a.is_default ? " (default)" : ""}
          </option>
        ))}
      </select>
      <button
        type="button"
        disabled={busy || !s.accountId || s.accountMissing}
        title="Make it the current account for other apps (limited to 10 an hour)"
        onClick={async () => {
          if (!s.accountId) return;
          setBusy(true);
          try {
            await call(api().POST("/api/v1/accounts/{account_id}/switch", { params: { path: { account_id: s.accountId } } }));
            toast("This account is now your current account.");
          } catch (e) {
            const d = describe(e);
            toast(d.retryAfter !== undefined ? `${d.text}` : d.text, "error");
          } finally {
            setBusy(false);
          }
        }}
      >
        Make current
      </button>
    </div>
  );
}

const STREAM_TEXT: Record<string, string> = {
  off: "Live updates off",
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  too_many: "Too many live streams open for your user (other tabs or apps): waiting for one to close…",
};

function StreamStatus() {
  const s = useStore();
  return (
    <span class={`stream-status ${s.stream}`} role="status" aria-live="polite">
      <span aria-hidden="true">{s.stream === "live" ? "●" : "○"} </span>
      {STREAM_TEXT[s.stream]}
    </span>
  );
}

function SummaryBar() {
  const s = useStore();
  const now = useNow();
  const a = s.summary;
  const stale = s.summaryAt !== undefined && now - s.summaryAt > 10_000;
  const cur = a?.currency;
  const items: [string, string, string][] = a
    ? [
        ["balance", "Balance", money(a.balance, cur)],
        ["equity", "Equity", money(a.equity, cur)],
        ["margin", "Margin", money(a.margin, cur)],
        ["margin_free", "Free margin", money(a.margin_free, cur)],
        ["margin_level", "Margin level", a.margin_level ? `${a.margin_level.toFixed(2)} %` : "—"],
        ["profit", "Profit", `${a.profit > 0 ? "+" : ""}${money(a.profit, cur)}`],
      ]
    : [];
  return (
    <section class={stale ? "summary stale" : "summary"} aria-label="Account summary" data-testid="summary">
      {a ? (
        <>
          <dl>
            {items.map(([k, label, v]) => (
              <div key={k} data-field={k}>
                <dt>{label}</dt>
                <dd class={k === "profit" ? (a.profit > 0 ? "gain" : a.profit < 0 ? "loss" : "") : ""}>{v}</dd>
              </div>
            ))}
          </dl>
          <p class="updated">
            {s.summaryAt && (
              <>
                Updated{" "}
                <time dateTime={new Date(s.summaryAt).toISOString()} title={new Date(s.summaryAt).toISOString()}>
                  {new Date(s.summaryAt).toLocaleTimeString()}
                </time>
              </>
            )}
            {stale && <strong class="stale-mark"> · stale (no update for {waitText((now - (s.summaryAt ?? now)) / 1000)})</strong>}
          </p>
        </>
      ) : (
        <p class="updated">
          {s.readErrors.account ? `The account could not be read: ${s.readErrors.account}` : s.accountId ? "Waiting for the account…" : "No account chosen"}
        </p>
      )}
    </section>
  );
}

function Banners() {
  const s = useStore();
  const entries = Object.entries(s.banners);
  if (!entries.length) return null;
  return (
    <div class="banners" role="alert">
      {entries.map(([code, text]) => (
        <p key={code} class="banner" data-code={code}>
          <span>{text}</span>
          <button type="button" class="link" onClick={() => clearBanner(code)}>
            Dismiss
          </button>
        </p>
      ))}
    </div>
  );
}

function Toasts() {
  const s = useStore();
  return (
    <div class="toasts" role="status" aria-live="polite">
      {s.toasts.map((t) => (
        <p key={t.id} class={`toast ${t.kind}`}>
          {t.kind === "error" ? "Error: " : ""}
          {t.text}
        </p>
      ))}
    </div>
  );
}

function About({ onClose }: { onClose: () => void }) {
  return (
    <Dialog title="About this console" onClose={onClose}>
      <p>The mt5-bridge trader console, served by the service itself. It loads nothing from other sites.</p>
      <h3>Charts</h3>
      <p class="notice">
        TradingView Lightweight Charts™ Copyright (c) 2025 TradingView, Inc.{" "}
        <a href="https://www.tradingview.com/" rel="noreferrer" target="_blank">
          https://www.tradingview.com/
        </a>
        . Licensed under the Apache License, Version 2.0.
      </p>
      <button type="button" onClick={onClose}>
        Close
      </button>
    </Dialog>
  );
}

const root = document.getElementById("app");
if (root) render(<App />, root);
