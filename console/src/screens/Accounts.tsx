// Accounts: the user's MT5 accounts (default badge, whether they may trade), connecting one with
// the seed's fields, editing the name and risk limits, making one the default, removing one.
import { ApiError } from "@mt5-bridge/client";
import { useEffect, useRef, useState } from "preact/hooks";
import { activeSupabase, stepUpWithTotp } from "../auth.js";
import { describe, type Shown } from "../errors.js";
import {
  api,
  call,
  chooseAccount,
  clearBanner,
  loadAccounts,
  restartStream,
  state,
  toast,
  useStore,
  type AccountSummary,
} from "../state.js";
import { Dialog, ErrorText, Field, Time, num } from "../ui.js";

/** Runs a stored-credential action; on `403 mfa_required` runs Supabase's TOTP challenge and retries. */
function useStepUp() {
  const [asking, setAsking] = useState(false);
  const resolver = useRef<((code: string | null) => void) | undefined>(undefined);
  const [code, setCode] = useState("");
  async function withStepUp<T>(action: () => Promise<T>): Promise<T> {
    try {
      return await action();
    } catch (e) {
      if (!(e instanceof ApiError && e.code === "mfa_required") || !activeSupabase()) throw e;
      const passed = await stepUpWithTotp(
        () =>
          new Promise<string | null>((done) => {
            resolver.current = done;
            setCode("");
            setAsking(true);
          }),
      );
      setAsking(false);
      if (passed === "no_factor") {
        throw new Error("This needs a two-factor sign-in: add an authenticator app to your account first.");
      }
      if (!passed) throw e;
      return action();
    }
  }
  const dialog = asking ? (
    <Dialog title="Two-factor check" onClose={() => resolver.current?.(null)}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          resolver.current?.(code.trim());
        }}
      >
        <div class="field">
          <label for="totp">Code from your authenticator app</label>
          <input id="totp" inputMode="numeric" autocomplete="one-time-code" value={code} onInput={(e) => setCode((e.target as HTMLInputElement).value)} />
        </div>
        <button type="submit">Verify</button>
        <button type="button" onClick={() => resolver.current?.(null)}>
          Cancel
        </button>
      </form>
    </Dialog>
  ) : null;
  return { withStepUp, dialog };
}

export function Accounts() {
  const s = useStore();
  const [editing, setEditing] = useState<AccountSummary>();
  const [removing, setRemoving] = useState<AccountSummary>();
  const stepUp = useStepUp();
  return (
    <section>
      <h1 tabIndex={-1}>Accounts</h1>
      {s.accountsError && <p role="alert" class="error">{s.accountsError}</p>}
      {s.accounts && s.accounts.length === 0 && <p>You have no MT5 account yet: connect one below.</p>}
      {s.accounts && s.accounts.length > 0 && (
        <div class="table-wrap" tabIndex={0} role="region" aria-label="Your accounts">
          <table data-testid="accounts">
            <caption>Your MT5 accounts</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Login</th>
                <th scope="col">Server</th>
                <th scope="col">Broker</th>
                <th scope="col">Type</th>
                <th scope="col">Trading</th>
                <th scope="col">Connected</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {s.accounts.map((a) => (
                <tr key={a.id} data-account={a.id} aria-current={a.id === s.accountId ? "true" : undefined}>
                  <td>
                    {a.account_name} {a.is_default && <span class="badge">Default</span>}
                    {a.id === s.accountId && <span class="badge chosen">Shown</span>}
                  </td>
                  <td>{a.login}</td>
                  <td>{a.server}</td>
                  <td>{a.broker_name ?? "—"}</td>
                  <td>{a.account_type ?? "—"}</td>
                  <td>{a.trade_allowed === false ? "Read-only" : a.trade_allowed ? "Allowed" : "Unknown"}</td>
                  <td>
                    <Time iso={a.created_at} />
                  </td>
                  <td class="actions">
                    {a.id !== s.accountId && (
                      <button type="button" onClick={() => chooseAccount(a.id)}>
                        Show
                      </button>
                    )}
                    <button type="button" onClick={() => setEditing(a)} aria-label={`Edit ${a.account_name}`}>
                      Edit
                    </button>
                    {!a.is_default && (
                      <button
                        type="button"
                        aria-label={`Make ${a.account_name} the default`}
                        onClick={async () => {
                          try {
                            await call(api().PUT("/api/v1/accounts/{account_id}", { params: { path: { account_id: a.id } }, body: { is_default: true } }));
                            toast(`${a.account_name} is now the default account.`);
                            await loadAccounts();
                          } catch (e) {
                            toast(describe(e).text, "error");
                          }
                        }}
                      >
                        Make default
                      </button>
                    )}
                    <button type="button" class="danger" onClick={() => setRemoving(a)} aria-label={`Remove ${a.account_name}`}>
                      Remove
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Connect withStepUp={stepUp.withStepUp} />
      {editing && <Edit account={editing} onClose={() => setEditing(undefined)} withStepUp={stepUp.withStepUp} />}
      {removing && <Remove account={removing} onClose={() => setRemoving(undefined)} />}
      {stepUp.dialog}
    </section>
  );
}

function Connect({ withStepUp }: { withStepUp: <T>(a: () => Promise<T>) => Promise<T> }) {
  const [f, setF] = useState({ account_name: "", login: "", password: "", server: "", broker_name: "", account_type: "", set_as_default: false });
  const [error, setError] = useState<Shown>();
  const [busy, setBusy] = useState(false);
  const set = (k: keyof typeof f) => (e: Event) => setF({ ...f, [k]: (e.target as HTMLInputElement).value });
  return (
    <form
      class="card"
      aria-labelledby="connect-title"
      onSubmit={async (e) => {
        e.preventDefault();
        setBusy(true);
        setError(undefined);
        try {
          const r = await withStepUp(() =>
            call(
              api().POST("/api/v1/accounts/connect", {
                body: {
                  account_name: f.account_name,
                  login: f.login,
                  password: f.password,
                  server: f.server,
                  ...(f.broker_name ? { broker_name: f.broker_name } : {}),
                  ...(f.account_type ? { account_type: f.account_type as "demo" | "live" } : {}),
                  set_as_default: f.set_as_default,
                },
              }),
            ),
          );
          toast(`Connected ${f.account_name} (balance ${r.account.balance}).`);
          setF({ account_name: "", login: "", password: "", server: "", broker_name: "", account_type: "", set_as_default: false });
          await loadAccounts();
        } catch (x) {
          setError(describe(x));
        } finally {
          setBusy(false);
        }
      }}
    >
      <h2 id="connect-title">Connect an MT5 account</h2>
      <div class="grid">
        <Field id="c-name" label="Account name" name="account_name" error={error}>
          {(a) => <input {...a} required maxLength={255} value={f.account_name} onInput={set("account_name")} />}
        </Field>
        <Field id="c-login" label="Login" name="login" error={error}>
          {(a) => <input {...a} required inputMode="numeric" value={f.login} onInput={set("login")} />}
        </Field>
        <Field id="c-password" label="Password" name="password" error={error}>
          {(a) => <input {...a} required type="password" autocomplete="off" maxLength={128} value={f.password} onInput={set("password")} />}
        </Field>
        <Field id="c-server" label="Server" name="server" error={error} hint="Exactly as MT5 names it, e.g. MetaQuotes-Demo">
          {(a) => <input {...a} required value={f.server} onInput={set("server")} />}
        </Field>
        <Field id="c-broker" label="Broker (optional)" name="broker_name" error={error}>
          {(a) => <input {...a} maxLength={100} value={f.broker_name} onInput={set("broker_name")} />}
        </Field>
        <Field id="c-type" label="Type" name="account_type" error={error}>
          {(a) => (
            <select {...a} value={f.account_type} onChange={set("account_type")}>
              <option value="">As the terminal reports</option>
              <option value="demo">Demo</option>
              <option value="live">Live</option>
            </select>
          )}
        </Field>
      </div>
      <div class="field check">
        <input id="c-default" type="checkbox" checked={f.set_as_default} onChange={(e) => setF({ ...f, set_as_default: (e.target as HTMLInputElement).checked })} />
        <label for="c-default">Make it my default account</label>
      </div>
      <button type="submit" disabled={busy}>
        {busy ? "Connecting…" : "Connect"}
      </button>
      <ErrorText shown={error} />
    </form>
  );
}

function Edit({ account, onClose, withStepUp }: { account: AccountSummary; onClose: () => void; withStepUp: <T>(a: () => Promise<T>) => Promise<T> }) {
  const [name, setName] = useState(account.account_name);
  const [limits, setLimits] = useState({ max_daily_loss: "", max_risk_per_trade: "", max_positions: "", max_volume_per_trade: "", trading_enabled: true });
  const [password, setPassword] = useState("");
  const [error, setError] = useState<Shown>();
  useEffect(() => {
    void call(api().GET("/api/v1/accounts/{account_id}", { params: { path: { account_id: account.id } } }))
      .then(({ account: a }) => {
        const r = (a.risk_limits ?? {}) as Record<string, unknown>;
        const str = (v: unknown) => (typeof v === "number" ? String(v) : "");
        setLimits({
          max_daily_loss: str(r.max_daily_loss),
          max_risk_per_trade: str(r.max_risk_per_trade),
          max_positions: str(r.max_positions),
          max_volume_per_trade: str(r.max_volume_per_trade),
          trading_enabled: r.trading_enabled !== false,
        });
      })
      .catch((e) => setError(describe(e)));
  }, [account.id]);
  const setL = (k: keyof typeof limits) => (e: Event) => setLimits({ ...limits, [k]: (e.target as HTMLInputElement).value });
  return (
    <Dialog title={`Edit ${account.account_name}`} onClose={onClose}>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          setError(undefined);
          const risk: Record<string, number | boolean> = {};
          for (const k of ["max_daily_loss", "max_risk_per_trade", "max_positions", "max_volume_per_trade"] as const) {
            const v = num(limits[k]);
            if (v !== undefined) risk[k] = v;
          }
          if (!limits.trading_enabled) risk.trading_enabled = false;
          try {
            await withStepUp(() =>
              call(
                api().PUT("/api/v1/accounts/{account_id}", {
                  params: { path: { account_id: account.id } },
                  body: {
                    account_name: name,
                    risk_limits: Object.keys(risk).length ? (risk as never) : null,
                    ...(password ? { password } : {}),
                  },
                }),
              ),
            );
            toast("Account saved.");
            if (password) {
              // A new password may end a credential banner: read everything of the account again.
              clearBanner("account_credentials_invalid");
              if (account.id === state.accountId) restartStream();
            }
            await loadAccounts();
            onClose();
          } catch (x) {
            setError(describe(x));
          }
        }}
      >
        <Field id="e-name" label="Name" name="account_name" error={error}>
          {(a) => <input {...a} required maxLength={255} value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />}
        </Field>
        <fieldset>
          <legend>Risk limits (empty: none)</legend>
          <Field id="e-mdl" label="Max daily loss (fraction, e.g. 0.03)" name="risk_limits.max_daily_loss" error={error}>
            {(a) => <input {...a} inputMode="decimal" value={limits.max_daily_loss} onInput={setL("max_daily_loss")} />}
          </Field>
          <Field id="e-mrt" label="Max risk per trade (fraction)" name="risk_limits.max_risk_per_trade" error={error}>
            {(a) => <input {...a} inputMode="decimal" value={limits.max_risk_per_trade} onInput={setL("max_risk_per_trade")} />}
          </Field>
          <Field id="e-mp" label="Max open positions" name="risk_limits.max_positions" error={error}>
            {(a) => <input {...a} inputMode="numeric" value={limits.max_positions} onInput={setL("max_positions")} />}
          </Field>
          <Field id="e-mv" label="Max volume per trade (lots)" name="risk_limits.max_volume_per_trade" error={error}>
            {(a) => <input {...a} inputMode="decimal" value={limits.max_volume_per_trade} onInput={setL("max_volume_per_trade")} />}
          </Field>
          <div class="field check">
            <input
              id="e-enabled"
              type="checkbox"
              checked={limits.trading_enabled}
              onChange={(e) => setLimits({ ...limits, trading_enabled: (e.target as HTMLInputElement).checked })}
            />
            <label for="e-enabled">Trading enabled (off: the kill switch refuses every order)</label>
          </div>
        </fieldset>
        <Field id="e-password" label="New MT5 password (optional)" name="password" error={error}>
          {(a) => <input {...a} type="password" autocomplete="off" value={password} onInput={(e) => setPassword((e.target as HTMLInputElement).value)} />}
        </Field>
        <ErrorText shown={error} />
        <div class="buttons">
          <button type="submit">Save</button>
          <button type="button" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}

function Remove({ account, onClose }: { account: AccountSummary; onClose: () => void }) {
  const [error, setError] = useState<Shown>();
  return (
    <Dialog title={`Remove ${account.account_name}?`} onClose={onClose}>
      <p>
        The account {account.login} on {account.server} is removed from the bridge and its stored password erased. Nothing
        changes at the broker.
      </p>
      <ErrorText shown={error} />
      <div class="buttons">
        <button
          type="button"
          class="danger"
          onClick={async () => {
            try {
              await call(api().DELETE("/api/v1/accounts/{account_id}", { params: { path: { account_id: account.id } } }));
              toast(`${account.account_name} removed.`);
              onClose();
              await loadAccounts();
            } catch (e) {
              setError(describe(e));
            }
          }}
        >
          Remove
        </button>
        <button type="button" onClick={onClose}>
          Cancel
        </button>
      </div>
    </Dialog>
  );
}
