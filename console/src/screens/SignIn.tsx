// Sign-in: paste an access token (what `mt5-bridge token` prints, or a Supabase session's), or, when
// the service names a Supabase project, e-mail and password through auth-js.
import { useState } from "preact/hooks";
import type { ConsoleConfig } from "../auth.js";
import { looksLikeJwt } from "../auth.js";

export function SignIn(props: {
  config: ConsoleConfig;
  reason?: string;
  onToken: (token: string, remember: boolean) => void;
  onSupabase: (email: string, password: string, remember: boolean) => Promise<string | undefined>;
}) {
  const [token, setToken] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [remember, setRemember] = useState(false);
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const supabase = !!(props.config.supabase_url && props.config.supabase_publishable_key);
  return (
    <main id="main" class="signin">
      <h1 tabIndex={-1}>Sign in to the mt5-bridge console</h1>
      <p class="reason" role="alert">
        {props.reason ?? ""}
      </p>
      {supabase && (
        <form
          aria-labelledby="email-title"
          onSubmit={async (e) => {
            e.preventDefault();
            setBusy(true);
            setError(undefined);
            try {
              const err = await props.onSupabase(email, password, remember);
              if (err) setError(`Sign-in failed: ${err}`);
            } catch (x) {
              setError(`Sign-in failed: ${x instanceof Error ? x.message : String(x)}`);
            } finally {
              setBusy(false);
            }
          }}
        >
          <h2 id="email-title">With your e-mail</h2>
          <div class="field">
            <label for="email">E-mail</label>
            <input id="email" type="email" autocomplete="username" required value={email} onInput={(e) => setEmail((e.target as HTMLInputElement).value)} />
          </div>
          <div class="field">
            <label for="password">Password</label>
            <input
              id="password"
              type="password"
              autocomplete="current-password"
              required
              value={password}
              onInput={(e) => setPassword((e.target as HTMLInputElement).value)}
            />
          </div>
          <button type="submit" disabled={busy}>
            Sign in
          </button>
        </form>
      )}
      <form
        aria-labelledby="token-title"
        onSubmit={(e) => {
          e.preventDefault();
          if (!looksLikeJwt(token)) {
            setError("That does not look like an access token (three dot-separated parts).");
            return;
          }
          props.onToken(token, remember);
        }}
      >
        <h2 id="token-title">{supabase ? "Or with an access token" : "With an access token"}</h2>
        <div class="field">
          <label for="token">Access token</label>
          <textarea
            id="token"
            rows={3}
            spellcheck={false}
            aria-describedby="token-hint"
            value={token}
            onInput={(e) => setToken((e.target as HTMLTextAreaElement).value)}
            onKeyDown={(e) => {
              if (e.key === "Enter" && !e.shiftKey) {
                e.preventDefault();
                (e.currentTarget.form as HTMLFormElement).requestSubmit();
              }
            }}
          />
          <small id="token-hint" class="hint">
            A Supabase access token, or one printed by <code>mt5-bridge token --user &lt;uuid&gt;</code>.
          </small>
        </div>
        <button type="submit">Use this token</button>
      </form>
      <div class="field check">
        <input id="remember" type="checkbox" checked={remember} onChange={(e) => setRemember((e.target as HTMLInputElement).checked)} />
        <label for="remember">Remember on this tab</label>
      </div>
      <p class="error" role="alert">
        {error ?? ""}
      </p>
    </main>
  );
}
