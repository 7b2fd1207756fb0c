// Starts an `mt5-bridge serve` for the tests: its own data directory and port, the built-in
// simulated broker, and tokens minted by the same binary.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { randomUUID } from "node:crypto";

/** The binary: MT5_BRIDGE_BIN, else the debug build under CARGO_TARGET_DIR or the checkout's target/. */
export function binary(): string {
  if (process.env.MT5_BRIDGE_BIN) return process.env.MT5_BRIDGE_BIN;
  const target = process.env.CARGO_TARGET_DIR ?? resolve(process.cwd(), "../../target");
  return join(target, "debug", "mt5-bridge");
}

async function freePort(): Promise<number> {
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

export interface Service {
  baseUrl: string;
  /** A token of a new user (or of `user`), valid for `ttl` (`1h`, `3s`, …). */
  token(user?: string, ttl?: string): string;
  /** Stops the process (as a crash would) and starts it again on the same data and port. */
  restart(): Promise<void>;
  stop(): void;
}

async function launch(env: NodeJS.ProcessEnv, baseUrl: string): Promise<ChildProcess> {
  const child: ChildProcess = spawn(binary(), ["serve"], { env, stdio: "ignore" });
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
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function startService(extraEnv: Record<string, string> = {}): Promise<Service> {
  const dataDir = mkdtempSync(join(tmpdir(), "mt5-bridge-ts-"));
  const port = await freePort();
  const env = {
    ...process.env,
    DATA_DIR: dataDir,
    BIND: `127.0.0.1:${port}`,
    LOG_FORMAT: "json",
    ...extraEnv,
  };
  const baseUrl = `http://127.0.0.1:${port}`;
  let child = await launch(env, baseUrl);
  return {
    baseUrl,
    token(user = randomUUID(), ttl = "1h") {
      return execFileSync(binary(), ["token", "--user", user, "--ttl", ttl], {
        env: { ...process.env, DATA_DIR: dataDir },
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
