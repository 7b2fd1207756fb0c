// Starts an `mt5-bridge serve` for the console's tests (as the TypeScript client's tests do): its
// own data directory and port, the built-in simulated broker with accounts of its own (so tests
// never share an MT5 account), and tokens minted by the same binary.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { randomUUID } from "node:crypto";

/** The binary: MT5_BRIDGE_BIN, else the debug build under CARGO_TARGET_DIR or the checkout's target/. */
export function binary(): string {
  if (process.env.MT5_BRIDGE_BIN) return process.env.MT5_BRIDGE_BIN;
  const target = process.env.CARGO_TARGET_DIR ?? resolve(process.cwd(), "../target");
  return join(target, "debug", "mt5-bridge");
}

export async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => done(port));
    });
    srv.on("error", fail);
  });
}

/** The simulator's accounts for the tests: 40 of their own (hedging), each with an investor password, then two netting ones. */
export const SERVER = "Console-Demo";
/** Accounts `login(n)` for these `n` keep one position per symbol (netting). */
export const NETTING = [41, 42];
export function login(n: number): { login: string; password: string; investor: string } {
  const l = 70000 + n;
  return { login: String(l), password: `Pw-${l}!`, investor: `Inv-${l}!` };
}

function accountsFile(dir: string): string {
  let toml = `[[accounts]]
login = 5042856355
password = "V!QzRxQ7"
server = "MetaQuotes-Demo"
name = "Demo"
balance = 100000.0
currency = "USD"
leverage = 100
margin_mode = "hedging"
trade_mode = "demo"
`;
  for (let n = 1; n <= 42; n++) {
    const a = login(n);
    toml += `
[[accounts]]
login = ${a.login}
password = "${a.password}"
investor_password = "${a.investor}"
server = "${SERVER}"
name = "Trader ${n}"
balance = 10000.0
currency = "USD"
leverage = 100
margin_mode = "${NETTING.includes(n) ? "netting" : "hedging"}"
trade_mode = "demo"
`;
  }
  const path = join(dir, "accounts.toml");
  writeFileSync(path, toml);
  return path;
}

export interface Service {
  baseUrl: string;
  /** Its data directory (the SQLite database is `mt5-bridge.db` there). */
  dataDir: string;
  /** A token of a new user (or of `user`), valid for `ttl` (`1h`, `3s`, …). */
  token(user?: string, ttl?: string): string;
  /** Stops the process (as a crash would) and starts it again on the same data and port. */
  restart(): Promise<void>;
  stop(): void;
}

async function launch(env: NodeJS.ProcessEnv, baseUrl: string): Promise<ChildProcess> {
  const child: ChildProcess = spawn(binary(), ["serve"], { env, stdio: ["ignore", "ignore", "inherit"] });
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const r = await fetch(`${baseUrl}/readyz`);
      if (r.status === 200) return child;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill();
      throw new Error(`mt5-bridge serve did not become ready (${binary()})`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startService(extraEnv: Record<string, string> = {}): Promise<Service> {
  const dataDir = mkdtempSync(join(tmpdir(), "mt5-bridge-console-"));
  const port = await freePort();
  const env = {
    ...process.env,
    DATA_DIR: dataDir,
    BIND: `127.0.0.1:${port}`,
    LOG_FORMAT: "json",
    RUST_LOG: "warn",
    MT5_SIM_ACCOUNTS: accountsFile(dataDir),
    ...extraEnv,
  };
  const baseUrl = `http://127.0.0.1:${port}`;
  let child = await launch(env, baseUrl);
  return {
    baseUrl,
    dataDir,
    token(user = randomUUID(), ttl = "1h") {
      return execFileSync(binary(), ["token", "--user", user, "--ttl", ttl], {
        env: { ...env },
        encoding: "utf8",
      }).trim();
    },
    async restart() {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGKILL");
      await exited;
      child = await launch(env, baseUrl);
    },
    stop() {
      child.kill();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A call to the service from the test itself (setting up what the page is then asked to show). */
export async function apiCall<T = any>(
  service: Service,
  token: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<T> {
  const r = await fetch(`${service.baseUrl}${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body ? { "Content-Type": "application/json" } : {}), ...headers },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

/** Connects simulator account `n` for the token's user; its id. */
export async function connect(service: Service, token: string, n: number, opts: { investor?: boolean; name?: string } = {}): Promise<string> {
  const a = login(n);
  const r = await apiCall<{ account_id: string }>(service, token, "POST", "/api/v1/accounts/connect", {
    account_name: opts.name ?? `Trader ${n}`,
    login: a.login,
    password: opts.investor ? a.investor : a.password,
    server: SERVER,
  });
  return r.account_id;
}
