// E-mail sign-in through @supabase/auth-js, against a small local stub of Supabase Auth that signs
// its tokens with the secret the service checks them with.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createHmac, randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { Browser } from "playwright-core";
import { guardedPage, launchBrowser, screenshot } from "./browser.js";
import { heading, rows, seeText, until } from "./helpers.js";
import { apiCall, freePort, login, SERVER, startService, type Service } from "./server.js";

const SECRET = "a-console-test-secret-of-at-least-32-characters";
const KEY = "sb_publishable_console-test-key";
let service: Service;
let browser: Browser;
let stub: Server;
let stubOrigin: string;
const issued: string[] = [];
const grants: string[] = [];
const userId = randomUUID();
/** Lifetime of the tokens the stub issues (auth-js refreshes those with under 90 s left). */
let ttl = 3600;

function b64(v: object | Buffer): string {
  return (Buffer.isBuffer(v) ? v : Buffer.from(JSON.stringify(v))).toString("base64url");
}

function jwt(ttl: number, aal = "aal1"): string {
  const now = Math.floor(Date.now() / 1000);
  const head = b64({ alg: "HS256", typ: "JWT" });
  const body = b64({
    sub: userId,
    aud: "authenticated",
    role: "authenticated",
    email: "trader@example.com",
    aal,
    session_id: randomUUID(),
    is_anonymous: false,
    iat: now,
    exp: now + ttl,
  });
  const sig = createHmac("sha256", SECRET).update(`${head}.${body}`).digest("base64url");
  return `${head}.${body}.${sig}`;
}

function session(aal = "aal1") {
  const token = jwt(ttl, aal);
  issued.push(token);
  return {
    access_token: token,
    token_type: "bearer",
    expires_in: ttl,
    expires_at: Math.floor(Date.now() / 1000) + ttl,
    refresh_token: `refresh-${issued.length}`,
    user: user(),
  };
}

function user() {
  return {
    id: userId,
    aud: "authenticated",
    role: "authenticated",
    email: "trader@example.com",
    app_metadata: { provider: "email", providers: ["email"] },
    user_metadata: {},
    created_at: "2026-01-01T00:00:00Z",
    factors: [
      { id: "factor-1", friendly_name: "phone", factor_type: "totp", status: "verified", created_at: "2026-01-01T00:00:00Z", updated_at: "2026-01-01T00:00:00Z" },
    ],
  };
}

before(async () => {
  const port = await freePort();
  stubOrigin = `http://127.0.0.1:${port}`;
  stub = createServer((req, res) => {
    res.setHeader("Access-Control-Allow-Origin", "*");
    res.setHeader("Access-Control-Allow-Headers", "apikey, authorization, content-type, x-client-info, x-supabase-api-version");
    res.setHeader("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS");
    if (req.method === "OPTIONS") {
      res.writeHead(204).end();
      return;
    }
    let raw = "";
    req.on("data", (c) => (raw += c));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", stubOrigin);
      const json = (status: number, body: unknown) => {
        res.writeHead(status, { "Content-Type": "application/json" }).end(JSON.stringify(body));
      };
      if (req.headers.apikey !== KEY) return json(401, { code: 401, error_code: "no_api_key", msg: "No API key found in request" });
      if (url.pathname === "/auth/v1/token") grants.push(url.searchParams.get("grant_type") ?? "");
      if (req.method === "POST" && url.pathname === "/auth/v1/factors/factor-1/challenge") {
        return json(200, { id: "challenge-1", type: "totp", expires_at: Math.floor(Date.now() / 1000) + 300 });
      }
      if (req.method === "POST" && url.pathname === "/auth/v1/factors/factor-1/verify") {
        const body = JSON.parse(raw || "{}") as { challenge_id?: string; code?: string };
        if (body.challenge_id === "challenge-1" && body.code === "123456") return json(200, session("aal2"));
        return json(422, { code: 422, error_code: "mfa_verification_failed", msg: "Invalid TOTP code entered" });
      }
      if (req.method === "POST" && url.pathname === "/auth/v1/token" && url.searchParams.get("grant_type") === "password") {
        const body = JSON.parse(raw || "{}") as { email?: string; password?: string };
        if (body.email === "trader@example.com" && body.password === "correct horse") return json(200, session());
        return json(400, { code: 400, error_code: "invalid_credentials", msg: "Invalid login credentials" });
      }
      if (req.method === "POST" && url.pathname === "/auth/v1/token" && url.searchParams.get("grant_type") === "refresh_token") {
        return json(200, session());
      }
      if (req.method === "GET" && url.pathname === "/auth/v1/user") {
        const auth = req.headers.authorization?.replace(/^Bearer /, "") ?? "";
        return issued.includes(auth) ? json(200, user()) : json(401, { code: 401, msg: "invalid JWT" });
      }
      if (req.method === "POST" && url.pathname === "/auth/v1/logout") return void res.writeHead(204).end();
      json(404, { code: 404, msg: "not in the stub" });
    });
  });
  await new Promise<void>((r) => stub.listen(port, "127.0.0.1", r));
  [service, browser] = await Promise.all([
    startService({ JWT_SECRET: SECRET, SUPABASE_URL: stubOrigin, SUPABASE_PUBLISHABLE_KEY: KEY, JWT_REQUIRE_AAL2: "true" }),
    launchBrowser(),
  ]);
});

after(async () => {
  await browser?.close();
  service?.stop();
  stub?.close();
});

test("config.json names the project and the CSP lets the page reach it", async () => {
  const r = await fetch(`${service.baseUrl}/console/config.json`);
  assert.deepEqual(await r.json(), { supabase_url: stubOrigin, supabase_publishable_key: KEY });
  assert.equal(
    r.headers.get("content-security-policy"),
    `default-src 'self'; script-src 'self'; connect-src 'self' ${stubOrigin}; img-src 'self' data:; frame-ancestors 'none'`,
  );
});

test("e-mail sign-in through auth-js: a wrong password's message, then every call with the session's token", async () => {
  const g = await guardedPage(browser, [service.baseUrl, stubOrigin]);
  g.expectFailing(/\/auth\/v1\/token/);
  await g.page.goto(`${service.baseUrl}/console/accounts`);
  const form = g.page.getByRole("form", { name: "With your e-mail" });
  await form.getByLabel("E-mail").fill("trader@example.com");
  await form.getByLabel("Password").fill("wrong");
  await form.getByRole("button", { name: "Sign in" }).click();
  await seeText(g.page, "Sign-in failed: Invalid login credentials");
  await screenshot(g.page, "sign-in-supabase");

  await form.getByLabel("Password").fill("correct horse");
  await form.getByRole("button", { name: "Sign in" }).click();
  await heading(g.page, "Accounts");
  await seeText(g.page, "You have no MT5 account yet");
  await until("a call of the API", () => g.requests.some((r) => r.url().includes("/api/v1/accounts")));
  const token = issued[issued.length - 1];
  for (const r of g.requests.filter((r) => r.url().includes("/api/v1/"))) {
    assert.equal(r.headers().authorization, `Bearer ${token}`);
  }
  assert.ok(!g.requests.some((r) => r.url().includes("#")));
  await g.done();
});

async function signIn(g: Awaited<ReturnType<typeof guardedPage>>, path: string): Promise<void> {
  await g.page.goto(`${service.baseUrl}${path}`);
  const form = g.page.getByRole("form", { name: "With your e-mail" });
  await form.getByLabel("E-mail").fill("trader@example.com");
  await form.getByLabel("Password").fill("correct horse");
  await form.getByRole("button", { name: "Sign in" }).click();
}

test("auth-js refreshes a token about to expire and each new one reaches the client", async () => {
  await apiCall(service, jwt(600, "aal2"), "POST", "/api/v1/accounts/connect", {
    account_name: "Refreshed",
    login: login(2).login,
    password: login(2).password,
    server: SERVER,
  });
  ttl = 40;
  try {
    const g = await guardedPage(browser, [service.baseUrl, stubOrigin]);
    await signIn(g, "/console/journal");
    await heading(g.page, "Journal");
    const before = grants.filter((x) => x === "refresh_token").length;
    await g.page.getByRole("link", { name: "Algorithms" }).click();
    await heading(g.page, "Algorithms");
    await until("a refresh", () => grants.filter((x) => x === "refresh_token").length > before);
    const last = g.requests.filter((r) => r.url().includes("/api/v1/")).at(-1)!;
    const sent = last.headers().authorization?.replace(/^Bearer /, "") ?? "";
    assert.ok(issued.indexOf(sent) > 0, "a token from a refresh, not the sign-in's");
    await g.done();
  } finally {
    ttl = 3600;
  }
});

test("connecting with JWT_REQUIRE_AAL2: 403 mfa_required runs the TOTP challenge, then the connect again", async () => {
  const g = await guardedPage(browser, [service.baseUrl, stubOrigin]);
  g.expectFailing(/\/accounts\/connect$|\/factors\//);
  await signIn(g, "/console/accounts");
  await heading(g.page, "Accounts");
  const a = login(1);
  const form = g.page.getByRole("form", { name: "Connect an MT5 account" });
  await form.getByLabel("Account name").fill("Protected");
  await form.getByLabel("Login").fill(a.login);
  await form.getByLabel("Password").fill(a.password);
  await form.getByLabel("Server").fill(SERVER);
  await form.getByRole("button", { name: "Connect" }).click();
  const dialog = g.page.getByRole("dialog", { name: "Two-factor check" });
  await dialog.getByLabel("Code from your authenticator app").fill("123456");
  await screenshot(g.page, "mfa");
  await dialog.getByRole("button", { name: "Verify" }).click();
  await until("the account", async () => (await rows(g.page, "accounts")).some((r) => r[0]!.startsWith("Protected"))).catch(async (e) => {
    throw new Error(`${String(e)}; the page says: ${await g.page.locator("body").innerText()}`);
  });
  const connects = g.requests.filter((r) => r.method() === "POST" && r.url().endsWith("/api/v1/accounts/connect"));
  assert.equal(connects.length, 2, "refused once, then sent again");
  const aal = (r: (typeof connects)[number]) =>
    JSON.parse(Buffer.from((r.headers().authorization ?? "").split(".")[1]!, "base64url").toString()).aal;
  assert.deepEqual(connects.map(aal), ["aal1", "aal2"]);
  await g.done();
});
